#include "fit/report.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>

#include "common/error.h"
#include "common/format.h"
#include "fit/fit_json.h"
#include "fit/plots.h"

// The report is built once as a list of blocks (headings, paragraphs, lists,
// tables, plots) and rendered twice, as HTML and as Markdown, so that the two
// cannot drift apart. Numbers are formatted here, once, for both.

namespace sweep::fit {
namespace {

// ---------------------------------------------------------------- numbers

// Shown where a number does not exist (NaN: no bootstrap, a failed fit).
constexpr const char* kMissing = "–";

using Formatter = std::string (*)(double);

std::string printf_number(const char* format, double x) {
  char text[48];
  std::snprintf(text, sizeof(text), format, x);
  return text;
}

// Any number: 4 significant digits, scientific outside [1e-3, 1e4).
std::string general(double x) {
  if (!std::isfinite(x)) return kMissing;
  if (x == 0) return "0";
  if (std::fabs(x) >= 1e4 || std::fabs(x) < 1e-3) return format_sci(x, 4);
  return printf_number("%.4g", x);
}
std::string count(double x) { return std::isfinite(x) ? format_count(x) : kMissing; }
std::string flops(double x) { return std::isfinite(x) ? format_sci(x, 3) : kMissing; }
std::string exponent(double x) { return std::isfinite(x) ? printf_number("%.3f", x) : kMissing; }
std::string loss(double x) { return std::isfinite(x) ? printf_number("%.3f", x) : kMissing; }

// "value [lo, hi]"; the value alone without a bootstrap interval, or when the
// interval is the value itself (a target's given compute).
std::string with_interval(const Quantity& q, Formatter format) {
  std::string text = format(q.value);
  if (std::isfinite(q.value) && std::isfinite(q.lo) && std::isfinite(q.hi) &&
      (q.lo != q.value || q.hi != q.value))
    text += " [" + format(q.lo) + ", " + format(q.hi) + "]";
  return text;
}
std::string with_interval(const Quantity* q, Formatter format) {
  return q == nullptr ? "not fitted" : with_interval(*q, format);
}

std::string target_label(const Target& t) {
  if (!t.name.empty()) return t.name;
  if (t.compute > 0) return "C = " + flops(t.compute);
  return "N = " + count(t.params) + ", D = " + count(t.tokens);
}

// ---------------------------------------------------------------- the document

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
  const std::vector<Block>& blocks() const { return blocks_; }

 private:
  std::vector<Block> blocks_;
};

const Plot* find_plot(const std::vector<Plot>& plots, const std::string& name) {
  for (const Plot& p : plots)
    if (p.name == name) return &p;
  return nullptr;
}

void plot_section(Document& doc, const std::vector<Plot>& plots, const std::string& name) {
  const Plot* plot = find_plot(plots, name);
  if (plot == nullptr) return;
  doc.heading(plot->title);
  doc.plot(*plot);
}

// ---------------------------------------------------------------- sections

void data_section(Document& doc, const FitData& data) {
  doc.heading("Data");
  const auto profiles = data.profiles();
  char k[32];
  std::snprintf(k, sizeof(k), "%.4g", data.flops_per_param_token);
  doc.paragraph("Source: " + data.source + ". " + std::to_string(data.points.size()) +
                " runs fitted in " + std::to_string(profiles.size()) + " budgets; " +
                std::to_string(data.excluded.size()) + " excluded. FLOPs counted with the " +
                data.flop_convention + " convention; k = C/(N·D) = " + k +
                " relates compute to parameters and tokens in the closed-form frontiers.");
  Table budgets({"Budget C (FLOPs)", "Runs", "N (parameters)", "D (tokens)", "Lowest loss"},
                /*align=*/"r");
  for (size_t b = 0; b < profiles.size(); ++b) {
    if (profiles[b].empty()) continue;
    double n_lo = INFINITY, n_hi = -INFINITY, d_lo = INFINITY, d_hi = -INFINITY, best = INFINITY;
    for (int64_t i : profiles[b]) {
      const Observation& o = data.points[i];
      n_lo = std::min(n_lo, o.params), n_hi = std::max(n_hi, o.params);
      d_lo = std::min(d_lo, o.tokens), d_hi = std::max(d_hi, o.tokens);
      best = std::min(best, o.loss);
    }
    const double budget =
        b < data.budgets.size() ? data.budgets[b] : data.points[profiles[b][0]].budget;
    budgets.rows.push_back({flops(budget), std::to_string(profiles[b].size()),
                            count(n_lo) + " – " + count(n_hi), count(d_lo) + " – " + count(d_hi),
                            loss(best)});
  }
  doc.table(budgets, "There are no runs.");
  Table excluded({"Run", "Why it was not fitted"}, /*align=*/"ll");
  for (const Excluded& e : data.excluded) excluded.rows.push_back({e.run_id, e.reason});
  doc.table(excluded, "No runs were excluded.");
  if (!data.notes.empty()) doc.list(data.notes);
}

void headline_section(Document& doc, const FitData& data, const Analysis& analysis) {
  doc.heading("Compute-optimal scaling");
  const LawSet& laws = analysis.laws;
  int minima = 0;
  for (const Profile& p : laws.profiles) minima += p.parabola ? 1 : 0;
  const std::string fitted_to[3] = {
      std::to_string(laws.envelope.flops.size()) + " envelope points of the training curves",
      std::to_string(minima) + " IsoFLOP minima",
      "all " + std::to_string(data.points.size()) + " runs"};
  // The last column says what an approach was fitted to, or why it was not.
  auto fitted_or_why = [&](int approach) {
    const std::string law = "a" + std::to_string(approach);
    if (analysis.find(law + ".a") != nullptr) return fitted_to[approach - 1];
    const auto why = laws.why.find(law);
    return why != laws.why.end() ? why->second : std::string(kMissing);
  };
  const std::string names[3] = {"1: training-curve envelope", "2: IsoFLOP profiles",
                                "3: parametric L(N, D)"};
  Table table({"Approach", "a (N_opt ∝ C^a)", "b (D_opt ∝ C^b)", "Fitted to"}, /*align=*/"lrrl");
  for (int i = 0; i < 3; ++i) {
    const std::string prefix = "a" + std::to_string(i + 1) + ".";
    table.rows.push_back({names[i], with_interval(analysis.find(prefix + "a"), exponent),
                          with_interval(analysis.find(prefix + "b"), exponent),
                          fitted_or_why(i + 1)});
  }
  doc.table(table, "");
  char level[64];
  std::snprintf(level, sizeof(level), "%g%%", 100 * analysis.options.confidence);
  doc.paragraph(analysis.replicates_done > 0
                    ? std::string("Intervals: ") + level + " bootstrap percentile intervals over " +
                          std::to_string(analysis.replicates_done) +
                          " replicates, each resampling runs with replacement within every budget."
                    : "No bootstrap was run, so no intervals are shown.");
  doc.paragraph(
      "For comparison, Hoffmann et al. (2022, Table 2) found a = 0.50, 0.49, 0.46 and b = 0.50, "
      "0.51, 0.54 with approaches 1, 2 and 3; Kaplan et al. (2020) found a = 0.73, b = 0.27.");

  // Approach 3's law itself: the numbers from the analysis when it reports
  // them (with intervals), else the fitted law's.
  if (!laws.a3) return;
  const ParametricLaw& law = laws.a3->law;
  Table parameters({"Parameter", "Value"});
  const std::pair<const char*, const char*> names3[] = {{"E", "E (irreducible loss, nats)"},
                                                        {"A", "A"},
                                                        {"B", "B"},
                                                        {"alpha", "α (N exponent)"},
                                                        {"beta", "β (D exponent)"}};
  const double values[] = {law.E, law.A, law.B, law.alpha, law.beta};
  for (int i = 0; i < 5; ++i) {
    const Quantity* q = analysis.find(std::string("a3.") + names3[i].first);
    parameters.rows.push_back(
        {names3[i].second, q ? with_interval(*q, general) : general(values[i])});
  }
  doc.paragraph("Approach 3 fits L(N, D) = E + A/N^α + B/D^β to every run:");
  doc.table(parameters, "");
  doc.paragraph("L-BFGS from " + std::to_string(laws.a3->starts) + " starts, " +
                std::to_string(laws.a3->converged) +
                " of which converged; Huber objective at the optimum " +
                general(laws.a3->objective) + ".");
}

void profiles_table(Document& doc, const Analysis& analysis) {
  Table table({"Budget C (FLOPs)", "Runs", "N_opt", "D_opt", "Loss at N_opt", "D/N at N_opt",
               "Minimum inside the sizes trained", "Note"},
              /*align=*/"rrrrrrrl");
  for (const Profile& p : analysis.laws.profiles) {
    const bool fitted = p.parabola.has_value();
    table.rows.push_back(
        {flops(p.budget), std::to_string(p.points.size()), fitted ? count(p.params_opt) : kMissing,
         fitted ? count(p.tokens_opt) : kMissing, fitted ? loss(p.loss_opt) : kMissing,
         fitted ? general(p.tokens_opt / p.params_opt) : kMissing,
         fitted ? (p.bracketed ? "yes" : "no") : kMissing, p.why});
  }
  doc.table(table, "Approach 2 fitted no profiles.");
}

void projections_section(Document& doc, const Analysis& analysis) {
  doc.heading("Projections to targets");
  Table table({"Target", "Approach", "C (FLOPs)", "N (parameters)", "D (tokens)", "D/N",
               "Loss (nats/token)"});
  for (const Projection& p : analysis.projections)
    table.rows.push_back({target_label(p.target), std::to_string(p.approach),
                          with_interval(p.compute, flops), with_interval(p.params, count),
                          with_interval(p.tokens, count),
                          with_interval(p.tokens_per_param, general), with_interval(p.loss, loss)});
  if (!table.rows.empty())
    doc.paragraph(
        "What each approach's laws give at every target: for a compute budget, the "
        "compute-optimal N and D and the loss expected there; for a model given as N and D, its "
        "compute and expected loss.");
  doc.table(table, "No targets were given.");
}

void backtest_section(Document& doc, const Analysis& analysis, const std::vector<Plot>& plots) {
  const Backtest& backtest = analysis.backtest;
  doc.heading("Backtest");
  if (backtest.rows.empty()) {
    doc.paragraph(backtest.why.empty() ? "No budgets were held out for a backtest."
                                       : "No backtest: " + backtest.why);
    return;
  }
  std::string fitted, held_out;
  for (double b : backtest.fitted_budgets) fitted += (fitted.empty() ? "" : ", ") + flops(b);
  for (double b : backtest.held_out_budgets) held_out += (held_out.empty() ? "" : ", ") + flops(b);
  doc.paragraph("Laws fitted to the budgets " + fitted + " FLOPs predict the held-out " +
                (backtest.held_out_budgets.size() == 1 ? "budget " : "budgets ") + held_out +
                " FLOPs; \"covered\" means the observed value lies inside the prediction's "
                "interval.");
  Table table({"Budget C (FLOPs)", "Approach", "Observed N_opt", "Predicted N_opt", "N error",
               "Covered", "Observed loss", "Predicted loss", "Loss error (nats)", "Covered"},
              /*align=*/"r");
  for (const BacktestRow& r : backtest.rows)
    table.rows.push_back(
        {flops(r.budget), std::to_string(r.approach), count(r.observed_params),
         with_interval(r.predicted_params, count),
         std::isfinite(r.params_error) ? printf_number("%+.1f%%", 100 * r.params_error) : kMissing,
         r.params_covered ? "yes" : "no", loss(r.observed_loss),
         with_interval(r.predicted_loss, loss),
         std::isfinite(r.loss_error) ? printf_number("%+.3f", r.loss_error) : kMissing,
         r.loss_covered ? "yes" : "no"});
  doc.table(table, "");
  if (const Plot* plot = find_plot(plots, "backtest")) doc.plot(*plot);
}

void warnings_section(Document& doc, const Analysis& analysis) {
  doc.heading("Warnings and failures");
  std::vector<std::string> items = analysis.warnings;
  for (const auto& [law, why] : analysis.laws.why) items.push_back(law + " not fitted: " + why);
  if (items.empty()) items.push_back("No warnings.");
  doc.list(items);
  Table failures({"Law", "Replicates that failed", "Replicates run"});
  for (const auto& [law, failed] : analysis.replicate_failures)
    failures.rows.push_back(
        {law, std::to_string(failed), std::to_string(analysis.replicates_done)});
  doc.table(failures, analysis.replicates_done > 0
                          ? "Every law was fitted in every bootstrap replicate."
                          : "No bootstrap replicates were run.");
}

void quantities_section(Document& doc, const Analysis& analysis) {
  doc.heading("All quantities");
  Table table({"Key", "Quantity", "Value", "Interval", "Replicates"}, /*align=*/"ll");
  for (const Quantity& q : analysis.quantities) {
    const bool interval = std::isfinite(q.lo) && std::isfinite(q.hi);
    // A label that only repeats the key says nothing.
    table.rows.push_back({q.key, q.label == q.key ? "" : q.label, general(q.value),
                          interval ? "[" + general(q.lo) + ", " + general(q.hi) + "]" : kMissing,
                          std::to_string(q.replicates)});
  }
  doc.table(table, "The analysis reported no quantities.");
}

Document build_document(const FitData& data, const Analysis& analysis,
                        const std::vector<Plot>& plots, const std::string& json_name) {
  Document doc;
  data_section(doc, data);
  headline_section(doc, data, analysis);
  plot_section(doc, plots, "profiles");
  profiles_table(doc, analysis);
  plot_section(doc, plots, "optimal-params");
  plot_section(doc, plots, "optimal-tokens");
  plot_section(doc, plots, "frontier");
  projections_section(doc, analysis);
  plot_section(doc, plots, "curves");
  plot_section(doc, plots, "residuals");
  backtest_section(doc, analysis, plots);
  warnings_section(doc, analysis);
  quantities_section(doc, analysis);
  doc.paragraph("Analysis time " + format_duration(analysis.seconds) +
                ". Every number above is in " + json_name + ".");
  return doc;
}

// ---------------------------------------------------------------- HTML

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string anchor(const std::string& heading) {
  std::string id;
  for (char c : heading) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      id += char(std::tolower(static_cast<unsigned char>(c)));
    else if (!id.empty() && id.back() != '-')
      id += '-';
  }
  while (!id.empty() && id.back() == '-') id.pop_back();
  return id;
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.3em}
h2{font-size:1.3em;margin-top:2em;padding-bottom:.2em;border-bottom:1px solid #ddd}
nav{font-size:.9em;color:#555}nav a{color:#1f5f99;text-decoration:none;margin-right:.9em}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{padding:.3em .7em;text-align:left;vertical-align:top;border-bottom:1px solid #e6e6e6}
th{background:#f4f4f4;border-bottom:2px solid #ccc}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:1em 0}figure svg{display:block;width:100%;height:auto;max-width:1000px}
figcaption{color:#555;font-size:.9em;margin-top:.3em;max-width:1000px}
.omitted{color:#777;font-style:italic}
)";

std::string render_html(const std::string& title, const Document& doc) {
  std::string nav, body;
  for (const Block& block : doc.blocks()) {
    switch (block.kind) {
      case Block::Kind::kHeading:
        nav += "<a href=\"#" + anchor(block.text) + "\">" + html_escape(block.text) + "</a> ";
        body += "<h2 id=\"" + anchor(block.text) + "\">" + html_escape(block.text) + "</h2>\n";
        break;
      case Block::Kind::kParagraph:
        body += "<p>" + html_escape(block.text) + "</p>\n";
        break;
      case Block::Kind::kList:
        body += "<ul>\n";
        for (const std::string& item : block.items) body += "<li>" + html_escape(item) + "</li>\n";
        body += "</ul>\n";
        break;
      case Block::Kind::kTable: {
        const Table& t = block.table;
        auto cell = [&](const char* tag, size_t column, const std::string& text) {
          const bool number = t.numeric(column);
          return std::string("<") + tag + (number ? " class=\"num\"" : "") + ">" +
                 html_escape(text) + "</" + tag + ">";
        };
        body += "<div class=\"scroll\"><table>\n<thead><tr>";
        for (size_t c = 0; c < t.header.size(); ++c) body += cell("th", c, t.header[c]);
        body += "</tr></thead>\n<tbody>\n";
        for (const auto& row : t.rows) {
          body += "<tr>";
          for (size_t c = 0; c < row.size(); ++c) body += cell("td", c, row[c]);
          body += "</tr>\n";
        }
        body += "</tbody>\n</table></div>\n";
        break;
      }
      case Block::Kind::kPlot: {
        const Plot& plot = *block.plot;
        if (plot.svg.empty()) {
          body += "<p class=\"omitted\">Plot omitted: " + html_escape(plot.why) + "</p>\n";
        } else {
          body += "<figure id=\"plot-" + plot.name + "\">\n" +
                  inline_svg(plot.svg, plot.name + "-") + "\n<figcaption>" +
                  html_escape(plot.caption) + "</figcaption>\n</figure>\n";
        }
        break;
      }
    }
  }
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         html_escape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<h1>" +
         html_escape(title) + "</h1>\n<nav>" + nav + "</nav>\n" + body + "</body>\n</html>\n";
}

// ---------------------------------------------------------------- Markdown

// Keeps text literal in Markdown: no emphasis, no HTML, no table breaks.
std::string md_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '|':
        out += "\\|";
        break;
      case '*':
        out += "\\*";
        break;
      case '`':
        out += "\\`";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\n':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_markdown(const std::string& title, const Document& doc,
                            const std::string& svg_prefix) {
  std::string out = "# " + md_escape(title) + "\n";
  for (const Block& block : doc.blocks()) {
    out += "\n";
    switch (block.kind) {
      case Block::Kind::kHeading:
        out += "## " + md_escape(block.text) + "\n";
        break;
      case Block::Kind::kParagraph:
        out += md_escape(block.text) + "\n";
        break;
      case Block::Kind::kList:
        for (const std::string& item : block.items) out += "- " + md_escape(item) + "\n";
        break;
      case Block::Kind::kTable: {
        const Table& t = block.table;
        auto row_text = [](const std::vector<std::string>& cells) {
          std::string line = "|";
          for (const std::string& c : cells) line += " " + md_escape(c) + " |";
          return line + "\n";
        };
        out += row_text(t.header) + "|";
        for (size_t c = 0; c < t.header.size(); ++c) out += t.numeric(c) ? "---:|" : "---|";
        out += "\n";
        for (const auto& row : t.rows) out += row_text(row);
        break;
      }
      case Block::Kind::kPlot: {
        const Plot& plot = *block.plot;
        if (plot.svg.empty()) {
          out += "*Plot omitted: " + md_escape(plot.why) + "*\n";
        } else {
          out += "![" + md_escape(plot.title) + "](" + svg_prefix + plot.name + ".svg)\n\n" +
                 md_escape(plot.caption) + "\n";
        }
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- files

// Writes every file as <path>.tmp, then renames them all: an error leaves
// the previous report (or none), never a mix of half-written files.
void write_files(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<std::string> temporaries;
  auto discard = [&](size_t from) {
    std::error_code ignored;
    for (size_t i = from; i < temporaries.size(); ++i)
      std::filesystem::remove(temporaries[i], ignored);
  };
  for (const auto& [path, text] : files) {
    const std::string temporary = path + ".tmp";
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (out) {
      temporaries.push_back(temporary);
      out << text;
      out.close();
    }
    if (!out) {
      const std::string reason = std::strerror(errno);
      discard(0);
      throw UserError(path + ": cannot write the report: " + reason);
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    std::error_code error;
    std::filesystem::rename(temporaries[i], files[i].first, error);
    if (error) {
      discard(i);
      throw UserError(files[i].first + ": cannot write the report: " + error.message());
    }
  }
}

}  // namespace

ReportFiles write_report(const FitData& data, const Analysis& analysis,
                         const ReportOptions& options) {
  if (options.output_base.empty()) throw UserError("report: no output path given");
  const std::string& base = options.output_base;
  const std::string name = std::filesystem::path(base).filename().string();
  const std::string title =
      !options.title.empty() ? options.title
      : data.source.empty()
          ? "Scaling-law fit"
          : "Scaling-law fit: " + std::filesystem::path(data.source).filename().string();

  // Everything that can fail for reasons other than the disk (gnuplot, the
  // JSON) happens before the first byte is written.
  const std::vector<Plot> plots = make_plots(data, analysis, options.gnuplot);
  const std::string json = to_json(data, analysis).dump(2) + "\n";
  const Document doc = build_document(data, analysis, plots, name + ".json");

  ReportFiles report{base + ".html", base + ".md", base + ".json", {}};
  std::vector<std::pair<std::string, std::string>> files = {
      {report.html, render_html(title, doc)},
      {report.markdown, render_markdown(title, doc, name + "-")},
      {report.json, json}};
  for (const Plot& plot : plots)
    if (!plot.svg.empty()) {
      report.plots.push_back(base + "-" + plot.name + ".svg");
      files.push_back({report.plots.back(), plot.svg});
    }
  write_files(files);
  // A plot drawn by an earlier report of the same name but omitted now would
  // otherwise sit beside the Markdown as if it were current.
  for (const Plot& plot : plots)
    if (plot.svg.empty()) {
      std::error_code ignored;
      std::filesystem::remove(base + "-" + plot.name + ".svg", ignored);
    }
  return report;
}

}  // namespace sweep::fit
