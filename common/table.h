#pragma once
// Plain-text tables for terminal output: columns sized to their widest cell,
// text left-aligned and numbers right-aligned.

#include <ostream>
#include <string>
#include <vector>

namespace sweep {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  void add_row(std::vector<std::string> cells);
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sweep
