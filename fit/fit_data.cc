#include "fit/fit_data.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "common/check.h"
#include "common/error.h"
#include "common/format.h"

namespace sweep::fit {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One cell of a CSV line: its text and the 1-based column where it starts.
struct Cell {
  std::string text;
  int column = 1;
};

std::vector<Cell> split_line(const std::string& line, char separator) {
  std::vector<Cell> cells;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(separator, start);
    std::string text =
        line.substr(start, end == std::string::npos ? std::string::npos : end - start);
    size_t lead = 0;
    while (lead < text.size() && std::isspace(static_cast<unsigned char>(text[lead]))) ++lead;
    size_t trail = text.size();
    while (trail > lead && std::isspace(static_cast<unsigned char>(text[trail - 1]))) --trail;
    text = text.substr(lead, trail - lead);
    if (text.size() >= 2 && text.front() == '"' && text.back() == '"')
      text = text.substr(1, text.size() - 2);
    cells.push_back({text, static_cast<int>(start + lead + 1)});
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return cells;
}

// Runs without a nominal budget get one grouped from their FLOPs.
void assign_missing_budgets(FitData& data) {
  std::vector<size_t> unbudgeted;
  std::vector<double> flops;
  for (size_t i = 0; i < data.points.size(); ++i) {
    if (data.points[i].budget > 0) continue;
    unbudgeted.push_back(i);
    flops.push_back(data.points[i].flops);
  }
  if (unbudgeted.empty()) return;
  const std::vector<double> budgets = infer_budgets(flops);
  for (size_t j = 0; j < unbudgeted.size(); ++j) data.points[unbudgeted[j]].budget = budgets[j];
  const size_t groups = std::set<double>(budgets.begin(), budgets.end()).size();
  const std::string grouping = "grouped by FLOPs into " + std::to_string(groups) +
                               (groups == 1 ? " budget" : " budgets") +
                               ", each spanning at most a factor of 1.26 in C";
  if (unbudgeted.size() == data.points.size() && is_table_path(data.source))
    data.notes.push_back("no budget column: runs " + grouping);
  else
    data.notes.push_back(std::to_string(unbudgeted.size()) +
                         " runs have no nominal budget (given by N and D): " + grouping);
}

// Drops the k highest-loss points and the budgets not asked for, recording
// why; then sorts, fills `budgets` and the curves' indices.
void select_points(FitData& data, std::vector<LossCurve> curves_by_point,
                   const InputOptions& options) {
  std::vector<int64_t> order(data.points.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<bool> keep(data.points.size(), true);

  if (!options.budgets.empty()) {
    std::vector<double> present;
    for (const Observation& p : data.points) present.push_back(p.budget);
    std::sort(present.begin(), present.end());
    present.erase(std::unique(present.begin(), present.end()), present.end());
    auto matches = [](double a, double b) { return std::abs(a / b - 1) <= 0.05; };
    for (double wanted : options.budgets) {
      if (std::none_of(present.begin(), present.end(),
                       [&](double b) { return matches(b, wanted); })) {
        std::string list;
        for (double b : present) list += (list.empty() ? "" : ", ") + format_sci(b);
        throw UserError(data.source + ": budget " + format_sci(wanted) +
                        " matches no runs; the budgets are " + list);
      }
    }
    for (size_t i = 0; i < data.points.size(); ++i) {
      const bool wanted = std::any_of(options.budgets.begin(), options.budgets.end(),
                                      [&](double b) { return matches(data.points[i].budget, b); });
      if (!wanted) {
        keep[i] = false;
        data.excluded.push_back({data.points[i].run_id,
                                 "budget " + format_sci(data.points[i].budget) + " not selected",
                                 data.points[i].variant});
      }
    }
  }
  if (options.drop_highest > 0) {
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return data.points[a].loss > data.points[b].loss; });
    // Per variant: one family's losses may all lie above another's.
    std::map<std::string, int64_t> dropped;
    for (int64_t i : order) {
      if (!keep[i] || dropped[data.points[i].variant] == options.drop_highest) continue;
      keep[i] = false;
      ++dropped[data.points[i].variant];
      data.excluded.push_back({data.points[i].run_id,
                               "dropped: one of the " + std::to_string(options.drop_highest) +
                                   " highest losses (" + format_sci(data.points[i].loss, 4) + ")",
                               data.points[i].variant});
    }
  }

  order.clear();
  for (size_t i = 0; i < data.points.size(); ++i)
    if (keep[i]) order.push_back(static_cast<int64_t>(i));
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    const Observation &x = data.points[a], &y = data.points[b];
    return x.budget != y.budget ? x.budget < y.budget : x.params < y.params;
  });
  std::vector<Observation> points;
  for (int64_t i : order) {
    points.push_back(data.points[i]);
    if (!curves_by_point.empty() && !curves_by_point[i].flops.empty()) {
      LossCurve curve = std::move(curves_by_point[i]);
      curve.observation = static_cast<int64_t>(points.size()) - 1;
      data.curves.push_back(std::move(curve));
    }
  }
  data.points = std::move(points);
  data.budgets.clear();
  for (const Observation& p : data.points)
    if (data.budgets.empty() || data.budgets.back() != p.budget) data.budgets.push_back(p.budget);
}

}  // namespace

std::vector<std::vector<int64_t>> FitData::profiles() const {
  std::vector<std::vector<int64_t>> groups(budgets.size());
  for (size_t i = 0; i < points.size(); ++i) {
    const auto it = std::lower_bound(budgets.begin(), budgets.end(), points[i].budget);
    SWEEP_CHECK(it != budgets.end() && *it == points[i].budget, "point without its budget");
    groups[it - budgets.begin()].push_back(static_cast<int64_t>(i));
  }
  return groups;
}

std::map<double, double> FitData::best_loss_by_budget() const {
  std::map<double, double> best;
  for (const Observation& p : points) {
    auto [it, fresh] = best.emplace(p.budget, p.loss);
    if (!fresh) it->second = std::min(it->second, p.loss);
  }
  return best;
}

std::vector<double> infer_budgets(const std::vector<double>& flops, double log10_span) {
  std::vector<size_t> order(flops.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return flops[a] < flops[b]; });
  std::vector<double> budget(flops.size());
  size_t start = 0;
  for (size_t i = 1; i <= order.size(); ++i) {
    // Measured from the group's smallest C: neighbour-to-neighbour gaps would
    // chain a continuous spread of compute into one "budget".
    if (i < order.size() &&
        std::log10(flops[order[i]]) - std::log10(flops[order[start]]) <= log10_span)
      continue;
    double log_sum = 0;
    for (size_t j = start; j < i; ++j) log_sum += std::log(flops[order[j]]);
    // Three significant digits, so that a table's budgets read like the ones chosen.
    const double mean = std::stod(format_sci(std::exp(log_sum / (i - start)), 3));
    for (size_t j = start; j < i; ++j) budget[order[j]] = mean;
    start = i;
  }
  return budget;
}

FitData read_csv_table(const std::string& path, const InputOptions& options) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open the table");
  const char separator = ends_with(lower(path), ".tsv") ? '\t' : ',';
  FitData data;
  data.source = path;

  std::map<std::string, int> column;  // header name -> index
  std::vector<Cell> header;
  std::string line;
  int line_number = 0;
  auto located = [&](int col) {
    return path + ":" + std::to_string(line_number) + ":" + std::to_string(col);
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos ||
        line[line.find_first_not_of(" \t")] == '#')
      continue;
    header = split_line(line, separator);
    break;
  }
  if (header.empty())
    throw UserError(path + ": the table is empty; it needs a header such as params,tokens,loss");
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string name = lower(header[i].text);
    static const char* kKnown[] = {"params", "tokens", "flops",   "loss",
                                   "budget", "run",    "variant", "non_embedding_params"};
    if (std::none_of(std::begin(kKnown), std::end(kKnown),
                     [&](const char* k) { return name == k; }))
      throw UserError(
          located(header[i].column) + ": unknown column '" + header[i].text +
          "'; the columns are params, loss, tokens and/or flops, and optionally budget, run, "
          "variant, non_embedding_params");
    if (column.count(name))
      throw UserError(located(header[i].column) + ": column '" + name + "' appears twice");
    column[name] = static_cast<int>(i);
  }
  for (const char* needed : {"params", "loss"})
    if (!column.count(needed))
      throw UserError(path + ":" + std::to_string(line_number) + ": the header has no '" + needed +
                      "' column; it needs params, loss and tokens or flops");
  if (!column.count("tokens") && !column.count("flops"))
    throw UserError(
        path + ":" + std::to_string(line_number) +
        ": the header needs a 'tokens' or a 'flops' column (tokens = flops / 6·params)");
  const bool has_tokens = column.count("tokens"), has_flops = column.count("flops");
  const bool has_budget = column.count("budget");

  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    const std::vector<Cell> cells = split_line(line, separator);
    if (cells.size() != header.size())
      throw UserError(located(1) + ": row has " + std::to_string(cells.size()) +
                      " cells, the header " + std::to_string(header.size()));
    auto number = [&](const char* name) {
      const Cell& cell = cells[column.at(name)];
      double value = NAN;
      size_t used = 0;
      try {
        value = std::stod(cell.text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (cell.text.empty() || used != cell.text.size() || !std::isfinite(value))
        throw UserError(located(cell.column) + ": " + name + " = '" + cell.text +
                        "': not a number");
      if (value <= 0)
        throw UserError(located(cell.column) + ": " + name + " = " + cell.text +
                        ": must be positive");
      return value;
    };
    Observation p;
    p.run_id =
        column.count("run") ? cells[column.at("run")].text : "line " + std::to_string(line_number);
    p.params = number("params");
    p.loss = number("loss");
    if (has_tokens) p.tokens = number("tokens");
    if (has_flops) p.flops = number("flops");
    if (!has_tokens) p.tokens = p.flops / (6 * p.params);
    if (!has_flops) p.flops = 6 * p.params * p.tokens;
    // The fit takes logarithms of N, D, C and N·D: none may overflow or underflow.
    if (!std::isfinite(6 * p.params * p.tokens) || !std::isfinite(p.flops) || !(p.tokens > 0))
      throw UserError(located(1) + ": params = " + cells[column.at("params")].text +
                      " with these tokens/flops puts 6·N·D or D = C/6N out of range");
    if (has_budget) p.budget = number("budget");
    if (column.count("variant")) {
      const Cell& cell = cells[column.at("variant")];
      // A run of no variant in a table of variants would silently form a
      // variant of its own.
      if (cell.text.empty())
        throw UserError(located(cell.column) +
                        ": variant is empty; every run of a table with a variant column "
                        "names its variant");
      p.variant = cell.text;
    }
    if (column.count("non_embedding_params"))
      p.non_embedding_params = number("non_embedding_params");
    data.points.push_back(p);
  }
  if (data.points.empty()) throw UserError(path + ": the table has a header but no rows");

  if (has_tokens && has_flops) {
    data.flops_per_param_token = median_flops_per_param_token(data.points);
    data.flop_convention =
        "as given (C = " + format_sci(data.flops_per_param_token, 3) + "·N·D, median)";
  }
  // Without a budget column every budget is 0: finish_fit_data groups them.
  finish_fit_data(data, {}, options);
  return data;
}

// N as options.params counts it; k follows N (C itself is what was spent).
void count_params_as(FitData& data, ParamConvention convention) {
  data.params = convention;
  if (convention == ParamConvention::kTotal || data.points.empty()) return;
  for (Observation& p : data.points) {
    if (!(p.non_embedding_params > 0))
      throw UserError(data.source + ": run " + p.run_id +
                      " has no non-embedding parameter count" +
                      (is_table_path(data.source) ? " (a non_embedding_params column)" : "") +
                      "; fit it with total parameters");
    p.params = p.non_embedding_params;
  }
  data.flops_per_param_token = median_flops_per_param_token(data.points);
}

void finish_fit_data(FitData& data, std::vector<LossCurve> curves_by_point,
                     const InputOptions& options) {
  assign_missing_budgets(data);
  count_params_as(data, options.params);
  select_points(data, std::move(curves_by_point), options);
}

double median_flops_per_param_token(const std::vector<Observation>& points) {
  std::vector<double> ratio;
  for (const Observation& p : points) ratio.push_back(p.flops / (p.params * p.tokens));
  return ratio.empty() ? 6 : median(ratio);
}

std::vector<std::string> variant_names(const FitData& data) {
  std::vector<std::string> names;
  for (const VariantInfo& v : data.variants)
    if (std::find(names.begin(), names.end(), v.name) == names.end()) names.push_back(v.name);
  std::set<std::string> others;
  for (const Observation& p : data.points) others.insert(p.variant);
  for (const Excluded& e : data.excluded)
    if (!e.variant.empty()) others.insert(e.variant);
  for (const std::string& name : others)
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  return names;
}

FitData variant_data(const FitData& data, const std::string& variant) {
  FitData out;
  out.source = data.source;
  out.flop_convention = data.flop_convention;
  out.params = data.params;
  out.notes = data.notes;
  for (const VariantInfo& v : data.variants)
    if (v.name == variant) out.variants.push_back(v);
  for (const Tuning& t : data.tuning)
    if (t.variant == variant) out.tuning.push_back(t);
  std::vector<int64_t> new_index(data.points.size(), -1);
  for (size_t i = 0; i < data.points.size(); ++i) {
    if (data.points[i].variant != variant) continue;
    new_index[i] = static_cast<int64_t>(out.points.size());
    out.points.push_back(data.points[i]);
  }
  for (const LossCurve& c : data.curves) {
    if (new_index[c.observation] < 0) continue;
    out.curves.push_back(c);
    out.curves.back().observation = new_index[c.observation];
  }
  for (const Excluded& e : data.excluded)
    if (e.variant == variant) out.excluded.push_back(e);
  // The points keep the whole data's order (budget, then N): budgets follow.
  for (const Observation& p : out.points)
    if (out.budgets.empty() || out.budgets.back() != p.budget) out.budgets.push_back(p.budget);
  out.flops_per_param_token =
      out.points.empty() ? data.flops_per_param_token : median_flops_per_param_token(out.points);
  if (data.flop_convention.rfind("as given", 0) == 0)
    out.flop_convention =
        "as given (C = " + format_sci(out.flops_per_param_token, 3) + "·N·D, median)";
  return out;
}

bool is_table_path(const std::string& path) {
  const std::string name = lower(path);
  return ends_with(name, ".csv") || ends_with(name, ".tsv");
}

}  // namespace sweep::fit
