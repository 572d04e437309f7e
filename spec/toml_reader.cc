#include "spec/toml_reader.h"

#include <cmath>
#include <sstream>

#include "common/error.h"
#include "common/format.h"

namespace sweep {

bool Bounds::contains(double v) const {
  if (std::isnan(v)) return false;
  if (min_open ? !(v > min) : !(v >= min)) return false;
  if (max_open ? !(v < max) : !(v <= max)) return false;
  return true;
}

namespace {
std::string bound_text(double v) {
  if (std::fabs(v) >= 1e6 || (v != 0 && std::fabs(v) < 1e-3)) return format_sci(v, 6);
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

std::string Bounds::describe() const {
  const bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  if (has_min && has_max) {
    return std::string("in ") + (min_open ? "(" : "[") + bound_text(min) + ", " + bound_text(max) +
           (max_open ? ")" : "]");
  }
  if (has_min) return std::string(min_open ? "> " : ">= ") + bound_text(min);
  if (has_max) return std::string(max_open ? "< " : "<= ") + bound_text(max);
  return "finite";
}

std::string source_location(const std::string& path, const toml::source_region& region) {
  if (region.begin.line == 0) return path;
  return path + ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
}

std::string render_value(const toml::node& node) {
  std::ostringstream out;
  if (const auto* s = node.as_string()) {
    out << '"' << s->get() << '"';
  } else if (const auto* f = node.as_floating_point()) {
    const double v = f->get();
    if (std::isfinite(v) && (std::fabs(v) >= 1e5 || (v != 0 && std::fabs(v) < 1e-3))) {
      out << format_sci(v, 6);
    } else {
      out << v;
    }
  } else if (node.is_table()) {
    out << "{...}";
  } else if (const auto* a = node.as_array()) {
    out << "[";
    for (size_t i = 0; i < a->size(); ++i) {
      if (i) out << ", ";
      if (i == 4 && a->size() > 5) {
        out << "... (" << a->size() << " items)";
        break;
      }
      out << render_value(*a->get(i));
    }
    out << "]";
  } else if (const auto* i = node.as_integer()) {
    out << i->get();
  } else if (const auto* b = node.as_boolean()) {
    out << (b->get() ? "true" : "false");
  } else {
    out << "<" << node.type() << ">";
  }
  return out.str();
}

TomlSection::TomlSection(const toml::table& table, std::string prefix, std::string path)
    : table_(table), prefix_(std::move(prefix)), path_(std::move(path)) {}

void TomlSection::set_overlay(const toml::table* overlay, std::string overlay_prefix) {
  overlay_ = overlay;
  overlay_prefix_ = std::move(overlay_prefix);
}

const toml::node* TomlSection::lookup(std::string_view key) const {
  if (overlay_) {
    if (const toml::node* n = overlay_->get(key)) return n;
  }
  return table_.get(key);
}

std::string TomlSection::full_key(std::string_view key) const {
  if (overlay_ && overlay_->contains(key)) return overlay_prefix_ + "." + std::string(key);
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

std::string TomlSection::where(std::string_view key) const {
  if (const toml::node* n = lookup(key)) return source_location(path_, n->source());
  return source_location(path_, table_.source());
}

const toml::node* TomlSection::node(std::string_view key) {
  known_.emplace(key);
  return lookup(key);
}

void TomlSection::fail(std::string_view key, const std::string& what) const {
  if (const toml::node* n = lookup(key)) fail_at(*n, full_key(key), what);
  throw UserError(where(key) + ": " + full_key(key) + ": " + what);
}

void TomlSection::fail_at(const toml::node& node, const std::string& full_key,
                          const std::string& what) const {
  throw UserError(source_location(path_, node.source()) + ": " + full_key + " = " +
                  render_value(node) + ": " + what);
}

std::optional<std::string> TomlSection::optional_string(
    std::string_view key, std::initializer_list<std::string_view> allowed) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  const auto* s = n->as_string();
  if (!s) fail(key, "must be a string");
  if (allowed.size() > 0) {
    std::string choices;
    for (std::string_view a : allowed) {
      if (s->get() == a) return s->get();
      choices += (choices.empty() ? "\"" : ", \"") + std::string(a) + "\"";
    }
    fail(key, "unknown value; allowed: " + choices);
  }
  return s->get();
}

std::string TomlSection::string(std::string_view key, std::string fallback,
                                std::initializer_list<std::string_view> allowed) {
  auto value = optional_string(key, allowed);
  return value ? *value : fallback;
}

double TomlSection::check_number(const toml::node& n, const std::string& key, Bounds bounds,
                                 bool integer) const {
  double value = 0;
  if (const auto* i = n.as_integer()) {
    value = double(i->get());
  } else if (const auto* f = n.as_floating_point()) {
    if (integer) fail_at(n, key, "must be an integer " + bounds.describe());
    value = f->get();
  } else {
    fail_at(n, key,
            std::string("must be ") + (integer ? "an integer " : "a number ") + bounds.describe());
  }
  if (!std::isfinite(value) || !bounds.contains(value)) {
    fail_at(n, key,
            std::string("out of range; allowed: ") + (integer ? "an integer " : "a number ") +
                bounds.describe());
  }
  return value;
}

std::optional<int64_t> TomlSection::optional_integer(std::string_view key, Bounds bounds) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  check_number(*n, full_key(key), bounds, /*integer=*/true);
  return n->as_integer()->get();
}

int64_t TomlSection::integer(std::string_view key, int64_t fallback, Bounds bounds) {
  return optional_integer(key, bounds).value_or(fallback);
}

std::optional<double> TomlSection::optional_number(std::string_view key, Bounds bounds) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  return check_number(*n, full_key(key), bounds, /*integer=*/false);
}

double TomlSection::number(std::string_view key, double fallback, Bounds bounds) {
  return optional_number(key, bounds).value_or(fallback);
}

bool TomlSection::boolean(std::string_view key, bool fallback) {
  const toml::node* n = node(key);
  if (!n) return fallback;
  const auto* b = n->as_boolean();
  if (!b) fail(key, "must be true or false");
  return b->get();
}

std::optional<TomlSection> TomlSection::section(std::string_view key) {
  const toml::node* n = node(key);
  if (!n) return std::nullopt;
  const auto* t = n->as_table();
  if (!t) fail(key, "must be a table ([" + full_key(key) + "] or { ... })");
  return TomlSection(*t, full_key(key), path_);
}

void TomlSection::reject_unknown() const {
  std::string known_list;
  for (const auto& k : known_) known_list += (known_list.empty() ? "" : ", ") + k;
  for (const auto& [key, value] : table_) {
    if (known_.count(key.str())) continue;
    throw UserError(source_location(path_, key.source()) + ": " + full_key(key.str()) +
                    ": unknown key" + (prefix_.empty() ? " (section)" : "") +
                    "; allowed: " + known_list);
  }
}

}  // namespace sweep
