#pragma once
// A report as one list of blocks (headings, paragraphs, lists, tables, plots),
// built once by fit/report.cc and rendered as HTML, as Markdown and as plain
// text (`sweepd fit` on a terminal), so that the three cannot drift apart.
// Numbers are formatted when the blocks are built, once, for all three.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "fit/plots.h"

namespace sweep::fit {

struct Table {
  explicit Table(std::vector<std::string> header, std::string align = "l")
      : header(std::move(header)), align(std::move(align)) {}
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // 'l' (text) or 'r' (numbers) per column; columns past its end are 'r'.
  std::string align = "l";
  bool numeric(size_t column) const { return column >= align.size() || align[column] == 'r'; }
};

struct Block {
  enum class Kind { kHeading, kParagraph, kList, kTable, kPlot };
  explicit Block(Kind kind, std::string text = "") : kind(kind), text(std::move(text)) {}
  Kind kind;
  std::string text;                // heading or paragraph
  std::vector<std::string> items;  // list
  Table table{{}};
  const Plot* plot = nullptr;
};

class Document {
 public:
  void heading(std::string text) { blocks_.emplace_back(Block::Kind::kHeading, std::move(text)); }
  void paragraph(std::string text) {
    blocks_.emplace_back(Block::Kind::kParagraph, std::move(text));
  }
  void list(std::vector<std::string> items) {
    Block block(Block::Kind::kList);
    block.items = std::move(items);
    blocks_.push_back(std::move(block));
  }
  // A table, or `if_empty` as a paragraph when it has no rows.
  void table(Table table, const std::string& if_empty) {
    if (table.rows.empty()) return paragraph(if_empty);
    Block block(Block::Kind::kTable);
    block.table = std::move(table);
    blocks_.push_back(std::move(block));
  }
  void plot(const Plot& plot) {
    Block block(Block::Kind::kPlot);
    block.plot = &plot;
    blocks_.push_back(std::move(block));
  }
  // Every block of `other`, its headings prefixed ("gpt2: Data" in a report
  // of several variants) so that each heading, and its anchor, stays unique.
  void append(const Document& other, const std::string& heading_prefix) {
    for (Block block : other.blocks_) {
      if (block.kind == Block::Kind::kHeading) block.text = heading_prefix + block.text;
      blocks_.push_back(std::move(block));
    }
  }
  const std::vector<Block>& blocks() const { return blocks_; }

 private:
  std::vector<Block> blocks_;
};

// One self-contained page: CSS inline, each plot's SVG inline.
std::string render_html(const std::string& title, const Document& doc);
// The same blocks; plots as `<svg_prefix><name>.svg` files beside it.
std::string render_markdown(const std::string& title, const Document& doc,
                            const std::string& svg_prefix);
// For a terminal: headings underlined, tables aligned (common/table.h), plots
// left out.
std::string render_text(const Document& doc);

}  // namespace sweep::fit
