#pragma once
// Strict, located reading of one TOML table.
//
// Every getter names a key and marks it known; reject_unknown() then turns any
// other key into an error, so a typo never falls back to a default silently.
// Every error is one line that points at the source, toml++ style:
//
//   jobs/x.toml:14:9: model.head_dim = 48: d_model must be a multiple of head_dim; ...
//
// and is thrown as UserError (exit code 2).

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace sweep {

// Allowed interval of a number; open or closed at either end.
struct Bounds {
  double min = -INFINITY, max = INFINITY;
  bool min_open = false, max_open = false;

  static Bounds any() { return {}; }
  static Bounds positive() { return {0, INFINITY, true, false}; }
  static Bounds at_least(double v) { return {v, INFINITY, false, false}; }
  static Bounds closed(double lo, double hi) { return {lo, hi, false, false}; }
  static Bounds open_closed(double lo, double hi) { return {lo, hi, true, false}; }
  static Bounds closed_open(double lo, double hi) { return {lo, hi, false, true}; }
  bool contains(double v) const;
  std::string describe() const;  // "a number > 0", "an integer in [1, 65536]"
};

// "path:line:col" of a node (or of the file when the node carries no position).
std::string source_location(const std::string& path, const toml::source_region& region);

// A value rendered compactly for error messages (long arrays are shortened).
std::string render_value(const toml::node& node);

class TomlSection {
 public:
  // `prefix` is the dotted name of this table ("grid", "fit"), "" for the root.
  TomlSection(const toml::table& table, std::string prefix, std::string path);

  // Keys of `overlay` (named under `overlay_prefix`) are read before this
  // table's own: a [[variant]]'s keys over the job's [model] and [train], each
  // error still pointing at the line that set the value. The overlay's keys
  // are not checked by reject_unknown() (its reader routes them).
  void set_overlay(const toml::table* overlay, std::string overlay_prefix);

  bool has(std::string_view key) const { return lookup(key) != nullptr; }
  // The node at `key` (marked known), or nullptr.
  const toml::node* node(std::string_view key);

  std::optional<std::string> optional_string(std::string_view key,
                                             std::initializer_list<std::string_view> allowed = {});
  std::string string(std::string_view key, std::string fallback,
                     std::initializer_list<std::string_view> allowed = {});
  std::optional<int64_t> optional_integer(std::string_view key, Bounds bounds);
  int64_t integer(std::string_view key, int64_t fallback, Bounds bounds);
  std::optional<double> optional_number(std::string_view key, Bounds bounds);
  double number(std::string_view key, double fallback, Bounds bounds);
  bool boolean(std::string_view key, bool fallback);

  // A sub-table; a value of another type at `key` is an error.
  std::optional<TomlSection> section(std::string_view key);

  // Errors for every key no getter asked for (the first one is thrown).
  void reject_unknown() const;

  // Throws UserError located at `key`'s value (or at this table when absent).
  [[noreturn]] void fail(std::string_view key, const std::string& what) const;
  // Throws UserError located at `node`, reported under the dotted name `full_key`.
  [[noreturn]] void fail_at(const toml::node& node, const std::string& full_key,
                            const std::string& what) const;

  // Checks a number node against bounds (integers only when `integer`).
  double check_number(const toml::node& node, const std::string& full_key, Bounds bounds,
                      bool integer) const;

  std::string full_key(std::string_view key) const;
  std::string where(std::string_view key) const;
  const std::string& path() const { return path_; }
  const toml::table& table() const { return table_; }

 private:
  const toml::node* lookup(std::string_view key) const;

  const toml::table& table_;
  const toml::table* overlay_ = nullptr;
  std::string overlay_prefix_;
  std::string prefix_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
};

}  // namespace sweep
