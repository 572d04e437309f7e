// `sweepd predict`: a fitted law projected to what the user asks for — the
// compute-optimal N and D for a compute budget (each approach), the loss of a
// model (N, D), or the inference-aware optimum for a target loss. The numbers
// and their intervals come from fit/planning.h; this file checks the options
// and prints.
//
// `--emit-job NEW.toml` turns the prediction at one budget into a job that
// tests it (docs/fit.md, "Predict, then verify"): the source sweep's job text
// with a new [sweep] name and output, a [grid] of sizes at C that brackets the
// predicted N_opt, and the prediction in [prediction]. Every other section is
// copied as it was written, comments and all; the result is parsed, compared
// section by section with the source job and expanded before it is written.

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/table.h"
#include "fit/fit_json.h"
#include "fit/planning.h"
#include "orchestrator/commands.h"
#include "orchestrator/fit_stage.h"
#include "spec/grid.h"
#include "spec/job_spec.h"
#include "storage/store.h"

namespace sweep {
namespace {

nlohmann::json cost_json(const fit::ModelCost& c) {
  return {{"params", c.params},
          {"tokens", c.tokens},
          {"train_flops", c.train_flops},
          {"inference_flops", c.inference_flops},
          {"total_flops", c.total_flops()}};
}

// ---------------------------------------------------------------- --emit-job

// The emitted grid's sizes at C: log-spaced from min(lo, N_opt/2) to
// max(hi, 2·N_opt), so that they bracket both the prediction's interval and a
// factor 2 on either side of it (wide enough for the IsoFLOP parabola to have
// a U), neighbours at most a factor 2 apart, 5 to 9 of them.
constexpr int kFewestSizes = 5, kMostSizes = 9;

std::vector<double> bracketing_sizes(const fit::Quantity& n_opt) {
  const double from = std::max(1.0, std::fmin(n_opt.lo, n_opt.value / 2));
  const double to = std::min(kMaxParams, std::fmax(n_opt.hi, 2 * n_opt.value));
  const int count = std::clamp(int(std::ceil(std::log2(to / from))) + 1, kFewestSizes, kMostSizes);
  std::vector<double> sizes;
  for (int i = 0; i < count; ++i) {
    const double t = double(i) / double(count - 1);
    // 3 significant digits, as a log range's points are (spec/job_spec.cc).
    sizes.push_back(std::stod(format_sci(from * std::pow(to / from, t), 3)));
  }
  return sizes;
}

// As spec/job_spec.cc writes [prediction]: "2e12", "1.68e4", "0.9".
std::string toml_number(double x) {
  if (std::fabs(x) >= 1e4) return format_sci(x, 6);
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", x);
  return text;
}

// `text` as TOML comment lines of at most 80 columns (a longer word stays whole).
std::vector<std::string> comment_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream words(text);
  std::string word, line = "#";
  while (words >> word) {
    if (line.size() > 1 && line.size() + 1 + word.size() > 80) {
      lines.push_back(line);
      line = "#";
    }
    line += " " + word;
  }
  lines.push_back(line);
  return lines;
}

std::string utc_now() {
  char text[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

// A job's text cut at its table headers: each piece is a header line and the
// lines up to the next header, under the header's top-level table ("grid" for
// [grid] and [[grid.runs]]); the lines before the first header have "".
struct TextSection {
  std::string table;
  bool whole = false;              // [grid] itself, not [[grid.runs]] (nor [grid.x])
  int first_line = 1;              // 1-based line number of lines[0]
  std::vector<std::string> lines;  // with the header line first
};

// The first line of every table written as a [header] or [[header]].
void header_lines(const toml::table& table, std::set<int>& lines) {
  auto visit = [&](const toml::table& t) {
    if (!t.is_inline()) lines.insert(int(t.source().begin.line));
    header_lines(t, lines);
  };
  for (auto&& [key, node] : table) {
    if (const auto* t = node.as_table()) visit(*t);
    if (const auto* array = node.as_array())
      for (const auto& item : *array)
        if (const auto* t = item.as_table()) visit(*t);
  }
}

std::string trimmed(const std::string& line) {
  const size_t a = line.find_first_not_of(" \t"), b = line.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : line.substr(a, b - a + 1);
}

std::vector<TextSection> split_sections(const std::string& text, const toml::table& root) {
  std::set<int> headers;
  header_lines(root, headers);
  std::vector<TextSection> sections(1);
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string t = trimmed(line);
    if (headers.count(number) && !t.empty() && t[0] == '[') {
      TextSection s;
      s.first_line = number;
      const std::string name = t.substr(t.find_first_not_of('['));
      const size_t end = name.find_first_of(".]");
      s.table = trimmed(name.substr(0, end));
      s.whole = t.rfind("[[", 0) != 0 && end != std::string::npos && name[end] == ']';
      if (s.table.size() >= 2 && (s.table[0] == '"' || s.table[0] == '\''))
        s.table = s.table.substr(1, s.table.size() - 2);
      sections.push_back(s);
    }
    sections.back().lines.push_back(line);
  }
  return sections;
}

bool comment_or_blank(const std::string& line) {
  const std::string t = trimmed(line);
  return t.empty() || t[0] == '#';
}

// `section` without the keys `keys` of `table` (the table it holds): the
// lines from each key to the end of its value, and the comment lines directly
// above it, which speak of it.
void remove_keys(TextSection& section, const toml::table& table,
                 std::initializer_list<const char*> keys) {
  std::vector<bool> drop(section.lines.size(), false);
  for (const char* key : keys) {
    const auto it = table.find(key);
    if (it == table.end()) continue;
    const int begin = int(it->first.source().begin.line) - section.first_line;
    const int end = int(it->second.source().end.line) - section.first_line;
    if (begin <= 0 || end >= int(section.lines.size())) continue;  // in a header of its own
    for (int i = begin; i <= end; ++i) drop[size_t(i)] = true;
    for (int i = begin - 1; i > 0 && !trimmed(section.lines[size_t(i)]).empty() &&
                            comment_or_blank(section.lines[size_t(i)]);
         --i)
      drop[size_t(i)] = true;
  }
  std::vector<std::string> kept;
  for (size_t i = 0; i < section.lines.size(); ++i)
    if (!drop[i]) kept.push_back(section.lines[i]);
  section.lines = std::move(kept);
}

// Lines after the header line.
void insert_after_header(TextSection& section, const std::vector<std::string>& lines) {
  section.lines.insert(section.lines.begin() + 1, lines.begin(), lines.end());
}

// The table at `node` (none: empty) without `keys`, for comparing what was kept.
toml::table without(const toml::node* node, std::initializer_list<const char*> keys) {
  toml::table t = node && node->as_table() ? *node->as_table() : toml::table{};
  for (const char* key : keys) t.erase(key);
  return t;
}

constexpr std::initializer_list<const char*> kSweepKeys = {"name", "output"};
constexpr std::initializer_list<const char*> kGridKeys = {"budgets", "params", "tokens_per_param",
                                                          "runs"};
constexpr std::initializer_list<const char*> kFitKeys = {"holdout_budgets"};
constexpr std::initializer_list<const char*> kNoKeys = {};

struct EmittedJob {
  std::string text;
  std::string output;  // the new sweep's HDF5 path
  Grid grid;           // what it expands to
};

// The source job's text with the new [sweep] name and output, the grid at C
// and [prediction]; throws UserError when that text cannot be made.
EmittedJob emitted_job(const SweepInfo& source, const std::string& path,
                       const fit::Prediction& prediction, const std::vector<double>& sizes,
                       const std::vector<std::string>& header) {
  toml::table root;
  try {
    root = toml::parse(source.job_text, source.job_path);
  } catch (const toml::parse_error& e) {
    throw UserError(source.job_path +
                    ": the stored job text does not parse: " + std::string(e.description()));
  }
  const JobSpec original = parse_job_text(source.job_text, source.job_path);
  const std::string stem = std::filesystem::path(path).stem().string();
  if (!std::regex_match(stem, std::regex("[A-Za-z0-9_.-]+")))
    throw UserError(path +
                    ": the file's stem names the new sweep: use letters, digits, '_', '-' "
                    "and '.' only");
  EmittedJob emitted;
  emitted.output = "runs/" + stem + ".h5";
  auto cannot = [&](const std::string& why) {
    return UserError("predict --emit-job: cannot rewrite the job of " + source.job_path + ": " +
                     why);
  };

  std::vector<TextSection> sections = split_sections(source.job_text, root);
  for (const std::string& line : sections.front().lines)
    if (!comment_or_blank(line))
      throw cannot("it sets keys before its first [section] header; write them under headers");
  const bool holdout = original.fit.holdout_budgets > 0 && root["fit"]["holdout_budgets"];
  std::vector<std::string> text = header;
  bool has_sweep = false;
  for (TextSection& s : sections) {
    if (s.table.empty() || s.table == "prediction") continue;
    if (s.table == "grid" && !s.whole) continue;  // [[grid.runs]]: replaced
    if (s.table == "sweep" && s.whole) {
      has_sweep = true;
      remove_keys(s, *root["sweep"].as_table(), kSweepKeys);
      insert_after_header(s, {"name = \"" + stem + "\"", "output = \"" + emitted.output + "\""});
    }
    if (s.table == "grid") {
      remove_keys(s, *root["grid"].as_table(), kGridKeys);
      std::string list;
      for (double n : sizes) list += (list.empty() ? "" : ", ") + format_sci(n, 3);
      insert_after_header(
          s, {"# One budget, the predicted one; sizes around its N_opt ([prediction]).",
              "budgets = [" + toml_number(prediction.compute) + "]", "params = [" + list + "]"});
    }
    if (s.table == "fit" && s.whole && holdout) {
      // One budget leaves none to hold out: the key would be an error.
      const size_t before = s.lines.size();
      remove_keys(s, *root["fit"].as_table(), {"holdout_budgets"});
      if (s.lines.size() < before)
        insert_after_header(s, {"# holdout_budgets left out: one budget leaves none to hold out"});
    }
    while (!s.lines.empty() && trimmed(s.lines.back()).empty()) s.lines.pop_back();
    text.push_back("");
    text.insert(text.end(), s.lines.begin(), s.lines.end());
  }
  if (!has_sweep) {
    if (root.contains("sweep")) throw cannot("its [sweep] is not written as a [sweep] header");
    text.insert(text.begin() + std::ptrdiff_t(header.size()),
                {"", "[sweep]", "name = \"" + stem + "\"", "output = \"" + emitted.output + "\""});
  }
  text.push_back("");
  text.push_back(prediction_toml(prediction));
  for (const std::string& line : text) emitted.text += line + "\n";
  while (emitted.text.size() >= 2 && emitted.text.substr(emitted.text.size() - 2) == "\n\n")
    emitted.text.pop_back();

  // The text must read back as the same job, with only the grid, the name,
  // the output, the prediction (and a holdout one budget cannot have) changed.
  JobSpec job;
  toml::table emitted_root;
  try {
    job = parse_job_text(emitted.text, path);
    emitted_root = toml::parse(emitted.text, path);
  } catch (const std::exception& e) {
    throw cannot(std::string("the rewritten job does not read back: ") + e.what());
  }
  // Every section is a table (parse_job_text refuses anything else).
  for (auto&& [key, node] : root) {
    const std::string name(key.str());
    if (name == "prediction") continue;
    const std::initializer_list<const char*> replaced = name == "sweep"  ? kSweepKeys
                                                        : name == "grid" ? kGridKeys
                                                        : name == "fit"  ? kFitKeys
                                                                         : kNoKeys;
    if (!(without(&node, replaced) == without(emitted_root.get(name), replaced)))
      throw cannot("[" + name + "] does not read back as it was written");
  }
  try {
    emitted.grid = expand_grid(job);
  } catch (const UserError& e) {
    throw UserError("predict --emit-job: the grid at " + format_sci(prediction.compute) +
                    " FLOPs: " + e.what());
  }
  return emitted;
}

// Writes `text` to `path` through a temporary: no half-written job.
void write_job_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      const std::string reason = std::strerror(errno);
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      throw UserError(path + ": cannot write the job: " + reason);
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw UserError(path + ": cannot write the job: " + error.message());
  }
}

// The job that tests the prediction at `compute`; written, and described in
// `text` (for the terminal) and `json`.
void emit_job(const PredictOptions& options, const FittedSweep& fitted, std::string* text,
              nlohmann::json* json) {
  const double compute = options.compute.front();
  const fit::Analysis& analysis = fitted.analysis;
  if (fitted.data.params != fit::ParamConvention::kTotal)
    throw UserError(
        "predict --emit-job: the job's grid.params are total parameters; predict with "
        "--param-convention total");
  fit::Prediction prediction;
  prediction.source = fitted.data.source;
  prediction.date = utc_now();
  prediction.compute = compute;
  prediction.confidence = analysis.options.confidence;
  prediction.bootstrap = analysis.options.bootstrap;
  prediction.envelope = fit::to_string(analysis.options.envelope);
  prediction.approaches = analysis.options.approaches;
  const fit::Projection* centre = nullptr;
  for (const fit::Projection& p : analysis.projections) {
    if (p.target.compute != compute) continue;
    prediction.optima.push_back({p.approach, p.params.value, p.params.lo, p.params.hi,
                                 p.tokens.value, p.tokens.lo, p.tokens.hi, p.loss.value, p.loss.lo,
                                 p.loss.hi});
    // Approach 3 when it was fitted (it models every run), else approach 2.
    if (p.approach == 3 || (p.approach == 2 && centre == nullptr)) centre = &p;
  }
  if (centre == nullptr) {
    auto why = [&](const char* law) {
      const auto it = analysis.laws.why.find(law);
      return it != analysis.laws.why.end() ? it->second : std::string("not requested");
    };
    throw UserError("predict --emit-job: needs approach 3's or approach 2's N_opt at " +
                    format_sci(compute) + " FLOPs; approach 3: " + why("a3") +
                    "; approach 2: " + why("a2"));
  }
  prediction.approach = centre->approach;
  const std::vector<double> sizes = bracketing_sizes(centre->params);

  const SweepStore store = SweepStore::open_read_only(options.fit.path);
  std::string interval;
  if (std::isfinite(centre->params.lo))
    interval = " [" + format_count(centre->params.lo) + ", " + format_count(centre->params.hi) +
               "] (" + std::to_string(std::lround(100 * prediction.confidence)) + "% interval)";
  std::string command = "sweepd predict";
  for (const std::string& p : input_paths(options.fit)) command += " " + p;
  const std::vector<std::string> header = comment_lines(
      "Made by `" + command + " --compute " + format_sci(compute) + " --emit-job " +
      options.emit_job + "` on " + prediction.date +
      ": a sweep that tests a prediction, as GPT-4's final loss was predicted from small runs "
      "and then checked. Approach " +
      std::to_string(centre->approach) + ", fitted to " + fitted.data.source +
      ", puts the compute-optimal model at C = " + format_sci(compute) +
      " FLOPs at N_opt = " + format_count(centre->params.value) + interval + ". The grid trains " +
      std::to_string(sizes.size()) + " sizes at that budget, from " + format_count(sizes.front()) +
      " to " + format_count(sizes.back()) +
      ", so that their IsoFLOP profile brackets it; every other setting is " +
      store.info().job_path + "'s, as stored in " + options.fit.path +
      ". [prediction] below is stored in the sweep's file before its first run trains, and "
      "`sweepd report` of that file compares it with the outcome (docs/fit.md, \"Predict, then "
      "verify\").");
  const EmittedJob emitted = emitted_job(store.info(), options.emit_job, prediction, sizes, header);

  std::vector<double> realized;
  for (const RunSpec& run : emitted.grid.runs) realized.push_back(double(run.params.total));
  std::sort(realized.begin(), realized.end());
  realized.erase(std::unique(realized.begin(), realized.end()), realized.end());
  if (realized.size() < 3)
    throw UserError("predict --emit-job: the grid at " + format_sci(compute) + " FLOPs keeps " +
                    std::to_string(realized.size()) +
                    " distinct sizes (the others are too short for grid.min_steps, or share a "
                    "shape); an IsoFLOP parabola needs 3");
  const double n_opt = centre->params.value;
  if (!(realized.front() < n_opt && n_opt < realized.back()))
    log_warn("predict --emit-job: the realized sizes " + format_count(realized.front()) + " – " +
             format_count(realized.back()) + " do not bracket N_opt " + format_count(n_opt));
  write_job_file(options.emit_job, emitted.text);

  *text = "\nWrote " + options.emit_job + ": " + std::to_string(emitted.grid.runs.size()) +
          " runs at C = " + format_sci(compute) + " FLOPs, N " + format_count(realized.front()) +
          " – " + format_count(realized.back()) + " around approach " +
          std::to_string(centre->approach) + "'s N_opt " + format_count(n_opt) +
          "; train it with `sweepd " + options.emit_job + "` (output " + emitted.output + ").\n";
  (*json)["emitted_job"] = {
      {"path", options.emit_job},        {"output", emitted.output}, {"compute", compute},
      {"approach", centre->approach},    {"target_params", sizes},   {"params", realized},
      {"runs", emitted.grid.runs.size()}};
}

// Before fitting: what --emit-job needs from the command line and the disk.
void check_emit_job(const PredictOptions& options) {
  if (options.compute.size() != 1)
    throw UserError("predict --emit-job: give exactly one --compute C (the budget to test)");
  if (fit::is_table_path(options.fit.path))
    throw UserError("predict --emit-job needs a sweep file (its job settings); " +
                    options.fit.path + " is a table");
  if (std::filesystem::exists(options.emit_job))
    throw UserError(options.emit_job +
                    ": exists; predict --emit-job does not overwrite a job file");
  const std::string stem = std::filesystem::path(options.emit_job).stem().string();
  const std::filesystem::path output = "runs/" + stem + ".h5";
  if (std::filesystem::exists(output))
    throw UserError(options.emit_job + ": its sweep's file " + output.string() +
                    " exists already (a resumed sweep would keep that file's prediction); "
                    "choose another name");
}

}  // namespace

int predict_command(const PredictOptions& options) {
  const bool model = options.params > 0 || options.tokens > 0;
  const bool inference = options.target_loss > 0 || options.inference_tokens > 0;
  if (model && !(options.params > 0 && options.tokens > 0))
    throw UserError("predict: --params and --tokens go together");
  if (inference && !(options.target_loss > 0))
    throw UserError(
        "predict: --inference-tokens needs --target-loss (the loss the model must reach)");
  if (options.compute.empty() && !model && !inference)
    throw UserError(
        "predict: give --compute C, --params N --tokens D, or --target-loss L [--inference-tokens "
        "T]");
  if (!options.emit_job.empty()) check_emit_job(options);

  FitCommandOptions fit_options = options.fit;
  fit_options.targets = options.compute;
  fit_options.job_targets = false;
  fit_options.holdout_budgets = 0;  // predict projects; `sweepd fit` backtests
  // The distance backtest stays: it measures the extrapolation error that
  // widens every projection's loss interval (fit/analysis.h).
  const FittedSweep fitted = fit_from_options(fit_options);
  const fit::Analysis& analysis = fitted.analysis;
  const double k = fitted.data.flops_per_param_token;

  // Only the asked-for targets, not the job's.
  nlohmann::json json = {{"source", fitted.data.source}, {"flops_per_param_token", k}};
  nlohmann::json projections = nlohmann::json::array();
  TextTable table({"target", "approach", "N", "D", "D/N", "loss"});
  bool any_row = false;
  for (const fit::Projection& p : analysis.projections) {
    if (std::find(options.compute.begin(), options.compute.end(), p.target.compute) ==
        options.compute.end())
      continue;
    table.add_row({target_name(p.target), approach_title(p.approach),
                   with_interval(p.params, count_text), with_interval(p.tokens, count_text),
                   with_interval(p.tokens_per_param, ratio_text),
                   with_interval(p.loss, loss_text)});
    projections.push_back(fit::to_json(p));
    any_row = true;
  }
  json["projections"] = projections;

  auto need_a3 = [&](const char* what) {
    if (!analysis.full.a3)
      throw UserError(
          std::string("predict: ") + what + " needs approach 3, which was not fitted: " +
          (analysis.laws.why.count("a3") ? analysis.laws.why.at("a3") : "not requested"));
  };
  if (model) {
    need_a3("--params/--tokens");
    const fit::Quantity loss = fit::model_loss(analysis, options.params, options.tokens);
    table.add_row({"N " + format_count(options.params) + ", D " + format_count(options.tokens),
                   approach_title(3), count_text(options.params), count_text(options.tokens),
                   ratio_text(options.tokens / options.params), with_interval(loss, loss_text)});
    json["model"] = {{"params", options.params},
                     {"tokens", options.tokens},
                     {"compute", k * options.params * options.tokens},
                     {"loss", fit::to_json(loss)}};
    any_row = true;
  }

  std::string inference_text;
  if (inference) {
    need_a3("--target-loss");
    std::string why;
    const auto estimate = fit::inference_aware_estimate(analysis, options.target_loss,
                                                        options.inference_tokens, &why);
    if (!estimate) throw UserError("predict: " + why);
    const fit::InferenceAwarePlan& plan = estimate->plan;
    TextTable t({"model of loss " + fixed(options.target_loss, 3), "N", "D", "D/N",
                 "training FLOPs", "inference FLOPs", "total FLOPs"});
    auto row = [&](const std::string& name, const fit::ModelCost& c, const fit::Quantity& n,
                   const fit::Quantity& d) {
      t.add_row({name, with_interval(n, count_text), with_interval(d, count_text),
                 ratio_text(c.tokens / c.params), sci_text(c.train_flops),
                 sci_text(c.inference_flops), sci_text(c.total_flops())});
    };
    row("inference-aware", plan.inference_aware, estimate->params, estimate->tokens);
    row("Chinchilla-optimal", plan.chinchilla, estimate->chinchilla_params,
        estimate->chinchilla_tokens);
    std::ostringstream text;
    text << "\nInference-aware optimum (Sardana et al. 2024) for "
         << format_count(options.inference_tokens)
         << " inference tokens, training C = " << fixed(k, 2) << "·N·D, inference "
         << fixed(k / 3, 2) << "·N per token\n";
    t.print(text);
    fit::Quantity percent = estimate->saving;
    percent.value *= 100, percent.lo *= 100, percent.hi *= 100;
    text << "Saving against the Chinchilla-optimal model of the same loss: "
         << with_interval(percent, [](double x) { return fixed(x, 1) + "%"; })
         << " of total FLOPs\n";
    inference_text = text.str();
    json["inference_aware"] = {{"target_loss", options.target_loss},
                               {"inference_tokens", options.inference_tokens},
                               {"inference_aware", cost_json(plan.inference_aware)},
                               {"chinchilla", cost_json(plan.chinchilla)},
                               {"saving", fit::to_json(estimate->saving)},
                               {"params_interval", {estimate->params.lo, estimate->params.hi}},
                               {"tokens_interval", {estimate->tokens.lo, estimate->tokens.hi}}};
  }

  std::string emitted_text;
  if (!options.emit_job.empty()) emit_job(options, fitted, &emitted_text, &json);

  if (options.fit.json) {
    std::cout << json.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fitted.data.source << ": " << analysis.replicates_done << " bootstrap replicates, "
            << static_cast<int>(std::lround(analysis.options.confidence * 100))
            << "% intervals\n\n";
  if (any_row) table.print(std::cout);
  std::cout << inference_text << emitted_text;
  for (const std::string& w : analysis.warnings) std::cout << "note: " << w << "\n";
  return kExitOk;
}

}  // namespace sweep
