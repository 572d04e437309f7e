#include "fit/plots.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "common/format.h"

namespace sweep::fit {
namespace {

constexpr int kMaxCurvePoints = 120;     // per training curve: more do not show at 800 px
constexpr int kMaxEnvelopePoints = 200;  // approach 1's envelope has one point per FLOP value
constexpr int kLinePoints = 48;          // samples of a fitted curve across the x range

// One colour per approach in every plot (matplotlib's tab10 order), and a
// dash pattern each so the lines stay apart in grey print.
const char* approach_colour(int approach) {
  switch (approach) {
    case 1:
      return "#1f77b4";
    case 2:
      return "#ff7f0e";
    case 3:
      return "#2ca02c";
    default:
      return "#7f7f7f";
  }
}
int approach_dash(int approach) { return approach == 2 ? 2 : approach == 3 ? 4 : 1; }
constexpr const char* kKaplanColour = "#9467bd";
constexpr const char* kKaplanOffsetColour = "#8c564b";
// Viridis, stopped before its pale yellow end, which vanishes on white.
constexpr const char* kPalette =
    "set palette defined (0 '#440154', 1 '#3b528b', 2 '#21918c', 3 '#5ec962', 4 '#b5de2b')\n";

// Budget i of n on the same palette: budgets are ordered, so an ordered
// colour scale says more than a qualitative one.
std::string budget_colour(size_t i, size_t n) {
  static const int kAnchors[5][3] = {{0x44, 0x01, 0x54},
                                     {0x3b, 0x52, 0x8b},
                                     {0x21, 0x91, 0x8c},
                                     {0x5e, 0xc9, 0x62},
                                     {0xb5, 0xde, 0x2b}};
  const double t = n <= 1 ? 0.0 : 4.0 * double(i) / double(n - 1);
  const int k = std::min(3, int(t));
  const double f = t - k;
  char text[16];
  int rgb[3];
  for (int c = 0; c < 3; ++c)
    rgb[c] = int(std::lround(kAnchors[k][c] * (1 - f) + kAnchors[k + 1][c] * f));
  std::snprintf(text, sizeof(text), "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return text;
}

std::string number(double x) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", x);
  return text;
}

// A gnuplot single-quoted string: no escapes but '' for a quote.
std::string gp_string(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool positive(double x) { return std::isfinite(x) && x > 0; }

std::string budget_label(double budget) { return "C = " + format_sci(budget, 3); }

// The interval of a Quantity for error bars: the value itself where the
// analysis had no bootstrap (NaN bounds).
double lower(const Quantity& q) { return std::isfinite(q.lo) ? q.lo : q.value; }
double upper(const Quantity& q) { return std::isfinite(q.hi) ? q.hi : q.value; }

// A gnuplot data block. Rows holding a non-finite number are dropped: gnuplot
// would silently skip or misdraw them. gap() writes a blank line, which ends
// one line of a `with lines` plot.
class DataBlock {
 public:
  explicit DataBlock(std::string name) : name_("$" + std::move(name)) {}
  void row(std::initializer_list<double> values) {
    for (double v : values)
      if (!std::isfinite(v)) return;
    std::string line;
    for (double v : values) line += (line.empty() ? "" : " ") + number(v);
    text_ += line + "\n";
    ++rows_;
  }
  void gap() {
    if (rows_ > 0) text_ += "\n";
  }
  bool empty() const { return rows_ == 0; }
  const std::string& name() const { return name_; }
  std::string text() const { return name_ + " << EOD\n" + text_ + "EOD\n"; }

 private:
  std::string name_, text_;
  int rows_ = 0;
};

// A positive interval on a log axis, grown as values are added.
struct LogRange {
  double lo = std::numeric_limits<double>::infinity();
  double hi = 0;
  void add(double x) {
    if (!positive(x)) return;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  bool valid() const { return hi > 0 && lo <= hi; }
  // Widened by `fraction` of its width in log space on each side (at least a
  // factor 1.5 overall, so that a single budget still gets an axis).
  LogRange padded(double fraction) const {
    const double width = std::max(std::log(hi / lo), std::log(1.5));
    const double mid = 0.5 * (std::log(hi) + std::log(lo));
    const double half = 0.5 * width * (1 + 2 * fraction);
    return {std::exp(mid - half), std::exp(mid + half)};
  }
  std::string gnuplot() const { return "[" + number(lo) + ":" + number(hi) + "]"; }
};

std::vector<double> log_spaced(const LogRange& range, int n) {
  std::vector<double> x(n);
  for (int i = 0; i < n; ++i)
    x[i] = range.lo * std::pow(range.hi / range.lo, double(i) / double(n - 1));
  return x;
}

enum class TicLabel { kCount, kSci, kFactor, kPlain };

std::string tic_label(double value, TicLabel label) {
  switch (label) {
    case TicLabel::kCount:
      return format_count(value);
    case TicLabel::kSci:
      return format_sci(value, 2);
    case TicLabel::kFactor:
    case TicLabel::kPlain:
      break;
  }
  char text[32];
  std::snprintf(text, sizeof(text), label == TicLabel::kFactor ? "%.3g×" : "%g", value);
  return text;
}

// Explicit ticks for a log axis over `range`: 1-2-5 (or 1-3, or powers of ten)
// per decade depending on how many decades it spans, labelled "10K" or
// "1e20" — gnuplot's own log ticks are powers of ten only, which leaves a
// profile spanning one decade with a single labelled tick.
std::string log_tics(const std::string& axis, const LogRange& range, TicLabel label) {
  const double decades = std::log10(range.hi / range.lo);
  std::vector<std::vector<double>> choices = {{1, 2, 3, 5}, {1, 2, 5}, {1, 3}, {1}};
  size_t choice = decades <= 1.2 ? 0 : decades <= 3 ? 1 : decades <= 6 ? 2 : 3;
  const int stride = decades > 12 ? int(std::ceil(decades / 10)) : 1;
  std::vector<double> tics;
  auto collect = [&](const std::vector<double>& mantissas) {
    tics.clear();
    for (int e = int(std::floor(std::log10(range.lo))); e <= int(std::ceil(std::log10(range.hi)));
         ++e) {
      if (((e % stride) + stride) % stride != 0) continue;
      for (double m : mantissas) {
        const double v = m * std::pow(10.0, e);
        if (v >= range.lo * (1 - 1e-9) && v <= range.hi * (1 + 1e-9)) tics.push_back(v);
      }
    }
  };
  collect(choices[choice]);
  if (tics.size() < 2) collect({1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9});
  std::string text = "set " + axis + "tics (";
  for (size_t i = 0; i < tics.size(); ++i)
    text += (i ? ", " : "") + gp_string(tic_label(tics[i], label)) + " " + number(tics[i]);
  return text + ")\nset m" + axis + "tics 1\n";
}

// Ticks exactly at `values` (e.g. the held-out budgets).
std::string value_tics(const std::string& axis, const std::vector<double>& values, TicLabel label) {
  std::string text = "set " + axis + "tics (";
  for (size_t i = 0; i < values.size(); ++i)
    text += (i ? ", " : "") + gp_string(tic_label(values[i], label)) + " " + number(values[i]);
  return text + ")\n";
}

// Keeps at most about `max_points` of (x sorted ascending) spread evenly in
// log x, always with the last one: enough to draw a curve, few enough to keep
// the SVG small.
std::vector<size_t> thin_log(const std::vector<double>& x, int max_points) {
  std::vector<size_t> kept;
  double first = 0, last = 0;
  for (double v : x)
    if (positive(v)) {
      if (first == 0) first = v;
      last = v;
    }
  if (first == 0) return kept;
  const double step = std::log(last / first) / max_points;
  double previous = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < x.size(); ++i) {
    if (!positive(x[i])) continue;
    const bool is_last = x[i] == last && (i + 1 == x.size() || !positive(x[i + 1]));
    if (std::log(x[i]) - previous >= step || is_last) {
      kept.push_back(i);
      previous = std::log(x[i]);
    }
  }
  return kept;
}

// A curve drawn with at most about `max_points` points (x ascending): the
// mean loss and geometric-mean FLOPs over each of thin_log's bins. Averaging
// rather than picking one step per bin keeps step-to-step noise in the
// training loss from aliasing into the drawn line.
std::vector<std::pair<double, double>> binned_curve(const std::vector<double>& flops,
                                                    const std::vector<double>& loss,
                                                    int max_points) {
  std::vector<std::pair<double, double>> points;
  size_t begin = 0;
  for (size_t end : thin_log(flops, max_points)) {
    double log_flops = 0, sum = 0;
    int count = 0;
    for (size_t i = begin; i <= end && i < loss.size(); ++i)
      if (positive(flops[i]) && std::isfinite(loss[i])) {
        log_flops += std::log(flops[i]);
        sum += loss[i];
        ++count;
      }
    if (count > 0) points.emplace_back(std::exp(log_flops / count), sum / count);
    begin = end + 1;
  }
  return points;
}

// Settings every plot shares: a light grid behind the data and a boxed key.
std::string preamble() {
  return "set encoding utf8\n"
         "set grid back lc rgb '#e3e3e3' lw 1 dt 1\n"
         "set border lc rgb '#555555'\n"
         "set key box lc rgb '#cccccc' opaque samplen 2.5 spacing 1.1\n"
         // Room above and below autoscaled data, so no point sits on the frame.
         "set offsets 0, 0, graph 0.05, graph 0.05\n";
}

// The script of one plot: settings and data blocks, then one plot command.
struct Script {
  std::string text;
  std::vector<std::string> elements;
  void add(const DataBlock& block) {
    if (!block.empty()) text += block.text();
  }
  std::string plot_command() const {
    std::string command = "plot ";
    for (size_t i = 0; i < elements.size(); ++i) command += (i ? ", \\\n     " : "") + elements[i];
    return command + "\n";
  }
};

// Several approaches predict at the same compute: each is drawn a little to
// one side (a factor 1.06 in C) so that their error bars do not hide each
// other.
double target_shift(int approach) { return std::pow(1.06, approach - 2); }

// The targets' projections of approaches 1-3 as error bars (blocks made by
// the caller, one per approach, in order).
void add_target_elements(const std::vector<DataBlock>& targets, Script& script) {
  for (size_t i = 0; i < targets.size(); ++i) {
    script.add(targets[i]);
    if (!targets[i].empty())
      script.elements.push_back(targets[i].name() +
                                " using 1:2:3:4 with yerrorbars pt 5 ps 0.9 lw 1.5 lc rgb '" +
                                approach_colour(int(i) + 1) + "' title 'approach " +
                                std::to_string(i + 1) + " at the targets'");
  }
}

std::string law_why(const LawSet& laws, const std::string& prefix, const std::string& fallback) {
  for (const auto& [law, why] : laws.why)
    if (law.rfind(prefix, 0) == 0) return fallback + ": " + why;
  return fallback + ".";
}

// The runs of each budget: approach 2's profiles when it ran (with their
// parabolas), else the data's own grouping.
struct Group {
  double budget = 0;
  std::vector<int64_t> points;
  const Profile* profile = nullptr;
};
std::vector<Group> budget_groups(const FitData& data, const LawSet& laws) {
  std::vector<Group> groups;
  if (!laws.profiles.empty()) {
    for (const Profile& p : laws.profiles) groups.push_back({p.budget, p.points, &p});
  } else {
    const auto profiles = data.profiles();
    for (size_t i = 0; i < profiles.size(); ++i)
      groups.push_back({i < data.budgets.size() ? data.budgets[i] : 0, profiles[i], nullptr});
  }
  for (Group& g : groups)
    g.points.erase(
        std::remove_if(g.points.begin(), g.points.end(),
                       [&](int64_t i) { return i < 0 || i >= int64_t(data.points.size()); }),
        g.points.end());
  return groups;
}

Plot profiles_plot(const FitData& data, const Analysis& analysis, const std::string& gnuplot) {
  Plot plot{"profiles", "IsoFLOP profiles",
            "Final validation loss against model size N at each compute budget C. Lines are the "
            "parabolas in ln N fitted by approach 2; open circles mark their minima.",
            "", ""};
  const std::vector<Group> groups = budget_groups(data, analysis.laws);
  Script script;
  LogRange x;
  DataBlock minima("minima");
  int parabolas = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string colour = budget_colour(g, groups.size());
    DataBlock runs("runs" + std::to_string(g));
    LogRange sizes;
    for (int64_t i : groups[g].points) {
      runs.row({data.points[i].params, data.points[i].loss});
      sizes.add(data.points[i].params);
    }
    if (runs.empty()) continue;
    x.add(sizes.lo);
    x.add(sizes.hi);
    script.add(runs);
    script.elements.push_back(runs.name() + " using 1:2 with points pt 7 ps 0.9 lc rgb '" + colour +
                              "' title " + gp_string(budget_label(groups[g].budget)));
    const Profile* profile = groups[g].profile;
    if (profile == nullptr || !profile->parabola) continue;
    // A little beyond the sizes trained, and out to the vertex when it lies
    // outside them (but not without bound: an unbracketed vertex can be far).
    LogRange span = sizes.padded(0.1);
    if (positive(profile->params_opt))
      span.add(std::clamp(profile->params_opt, sizes.lo / 4, sizes.hi * 4));
    DataBlock curve("parabola" + std::to_string(g));
    for (double n : log_spaced(span, kLinePoints)) curve.row({n, profile->parabola->at(n)});
    script.add(curve);
    if (!curve.empty()) {
      x.add(span.lo);
      x.add(span.hi);
      script.elements.push_back(curve.name() + " using 1:2 with lines lw 1.5 lc rgb '" + colour +
                                "' notitle");
    }
    if (positive(profile->params_opt) && profile->params_opt >= span.lo &&
        profile->params_opt <= span.hi)
      minima.row({profile->params_opt, profile->loss_opt});
    ++parabolas;
  }
  if (script.elements.empty()) {
    plot.why = "There are no runs to draw.";
    return plot;
  }
  if (parabolas == 0)
    plot.caption += " " + law_why(analysis.laws, "a2", "No profile has a fitted parabola");
  script.add(minima);
  if (!minima.empty())
    script.elements.push_back(minima.name() +
                              " using 1:2 with points pt 6 ps 2.2 lw 1.5 lc rgb 'black' "
                              "title 'parabola minimum'");
  const LogRange range = x.padded(0.03);
  script.text = preamble() + "set logscale x\nset xrange " + range.gnuplot() + "\n" +
                log_tics("x", range, TicLabel::kCount) +
                "set xlabel 'N (parameters)'\nset ylabel 'final validation loss (nats/token)'\n"
                "set key outside right top\n" +
                script.text;
  plot.svg = run_gnuplot(gnuplot, script.text + script.plot_command(), 900, 500);
  return plot;
}

// N_opt(C) (tokens = false) or D_opt(C): the minima and envelope the fits
// were made from, each approach's line drawn out to the targets, and the
// targets' projections with their intervals.
Plot optimal_plot(const FitData& data, const Analysis& analysis, bool tokens,
                  const std::string& gnuplot) {
  const std::string what = tokens ? "D_{opt}" : "N_{opt}";
  Plot plot{
      tokens ? "optimal-tokens" : "optimal-params",
      tokens ? "Compute-optimal tokens D_opt(C)" : "Compute-optimal model size N_opt(C)",
      std::string(tokens ? "Training tokens" : "Model size") +
          " at the compute-optimal frontier against training FLOPs: approach 1's envelope "
          "points and approach 2's IsoFLOP minima, the power laws fitted by approaches 1 and 2, "
          "and approach 3's closed-form frontier, drawn out to the targets. Shaded bands: the "
          "bootstrap interval of each approach's frontier at every C; error bars: the "
          "intervals of the projections.",
      "", ""};
  const LawSet& laws = analysis.laws;
  const double k = analysis.flops_per_param_token > 0 ? analysis.flops_per_param_token
                                                      : data.flops_per_param_token;
  LogRange x, y;
  Script script;

  DataBlock envelope("envelope");
  std::vector<double> envelope_flops = laws.envelope.flops;
  const std::vector<double>& envelope_y = tokens ? laws.envelope.tokens : laws.envelope.params;
  std::vector<size_t> order(std::min(envelope_flops.size(), envelope_y.size()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return envelope_flops[a] < envelope_flops[b]; });
  std::vector<double> sorted_flops;
  for (size_t i : order) sorted_flops.push_back(envelope_flops[i]);
  for (size_t j : thin_log(sorted_flops, kMaxEnvelopePoints)) {
    const size_t i = order[j];
    if (!positive(envelope_y[i])) continue;
    envelope.row({envelope_flops[i], envelope_y[i]});
    x.add(envelope_flops[i]);
    y.add(envelope_y[i]);
  }

  DataBlock bracketed("minima"), outside("unbracketed");
  for (const Profile& p : laws.profiles) {
    if (!p.parabola) continue;
    const double value = tokens ? p.tokens_opt : p.params_opt;
    if (!positive(value) || !positive(p.budget)) continue;
    (p.bracketed ? bracketed : outside).row({p.budget, value});
    x.add(p.budget);
    y.add(value);
  }
  for (double b : data.budgets) x.add(b);

  std::vector<DataBlock> targets;
  for (int approach = 1; approach <= 3; ++approach) {
    DataBlock block("targets" + std::to_string(approach));
    for (const Projection& p : analysis.projections) {
      // A target given as (N, D) is not on any frontier: it belongs in the
      // loss plot only.
      if (p.approach != approach || !(p.target.compute > 0)) continue;
      const Quantity& q = tokens ? p.tokens : p.params;
      if (!positive(p.compute.value) || !positive(q.value)) continue;
      block.row({p.compute.value * target_shift(approach), q.value, lower(q), upper(q)});
      x.add(p.compute.value);
      y.add(q.value);
      y.add(lower(q));
      y.add(upper(q));
    }
    targets.push_back(block);
  }
  if (!x.valid()) {
    plot.why = "No approach gave a compute-optimal frontier and no budgets are known.";
    return plot;
  }
  const LogRange x_range = x.padded(0.05);
  const std::vector<double> line_x = log_spaced(x_range, kLinePoints);

  struct Line {
    int approach;
    std::string title;
    std::vector<double> y;
  };
  std::vector<Line> lines;
  auto power_line = [&](int approach, const std::optional<PowerLaw>& law) {
    if (!law) return;
    Line line{approach, "", {}};
    char title[96];
    std::snprintf(title, sizeof(title), "approach %d fit: %s ∝ C^{%.3f}", approach, what.c_str(),
                  law->exponent);
    line.title = title;
    for (double c : line_x) line.y.push_back(law->at(c));
    lines.push_back(line);
  };
  power_line(1, tokens ? laws.a1_tokens : laws.a1_params);
  power_line(2, tokens ? laws.a2_tokens : laws.a2_params);
  if (const ParametricFit* a3 = laws.usable_a3()) {
    const ParametricLaw& law = a3->law;
    Line line{3, "", {}};
    char title[96];
    std::snprintf(title, sizeof(title), "approach 3: %s ∝ C^{%.3f} from L(N, D)", what.c_str(),
                  tokens ? law.b() : law.a());
    line.title = title;
    for (double c : line_x)
      line.y.push_back(tokens ? law.optimal_tokens(c, k) : law.optimal_params(c, k));
    lines.push_back(line);
  }

  // Lines run across the whole x range; a line far off the data (a poor
  // fit) may widen the y axis tenfold at most, and is clipped beyond that.
  // They are drawn first so that the points they were fitted to stay visible.
  const LogRange data_y = y;
  auto clip = [&](double v) {
    return data_y.valid() ? std::clamp(v, data_y.lo / 10, data_y.hi * 10) : v;
  };
  // Each line's interval band: at every C, the percentile interval of the
  // bootstrap replicates' laws evaluated there. Drawn under the lines.
  const double confidence = analysis.options.confidence;
  for (const Line& line : lines) {
    if (analysis.replicates.size() < 2) break;
    DataBlock band("band" + std::to_string(line.approach));
    for (double c : line_x) {
      const Quantity q = interval_of(
          "band", analysis.full, analysis.replicates, confidence, [&](const ReplicateLaws& r) {
            double v = NAN;
            if (line.approach == 1 && r.a1_params && r.a1_tokens)
              v = tokens ? r.a1_tokens->at(c) : r.a1_params->at(c);
            if (line.approach == 2 && r.a2_params && r.a2_tokens)
              v = tokens ? r.a2_tokens->at(c) : r.a2_params->at(c);
            if (line.approach == 3 && r.a3)
              v = tokens ? r.a3->optimal_tokens(c, k) : r.a3->optimal_params(c, k);
            return positive(v) ? v : double(NAN);
          });
      if (positive(q.lo) && positive(q.hi)) band.row({c, clip(q.lo), clip(q.hi)});
    }
    script.add(band);
    if (!band.empty())
      script.elements.push_back(band.name() +
                                " using 1:2:3 with filledcurves fs transparent solid 0.15 "
                                "noborder lc rgb '" +
                                approach_colour(line.approach) + "' title " +
                                gp_string("approach " + std::to_string(line.approach) + ": " +
                                          std::to_string(int(std::lround(confidence * 100))) +
                                          "% band"));
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    DataBlock block("line" + std::to_string(lines[i].approach));
    for (size_t j = 0; j < line_x.size(); ++j) {
      const double v = lines[i].y[j];
      if (!positive(v)) continue;
      block.row({line_x[j], v});
      y.add(clip(v));
    }
    script.add(block);
    if (!block.empty())
      script.elements.push_back(block.name() + " using 1:2 with lines lw 2 dt " +
                                std::to_string(approach_dash(lines[i].approach)) + " lc rgb '" +
                                approach_colour(lines[i].approach) + "' title " +
                                gp_string(lines[i].title));
  }
  script.add(envelope);
  if (!envelope.empty())
    script.elements.push_back(envelope.name() + " using 1:2 with points pt 7 ps 0.5 lc rgb '" +
                              approach_colour(1) + "' title 'approach 1: training-curve envelope'");
  script.add(bracketed);
  if (!bracketed.empty())
    script.elements.push_back(bracketed.name() + " using 1:2 with points pt 9 ps 1.4 lc rgb '" +
                              approach_colour(2) + "' title 'approach 2: IsoFLOP minima'");
  script.add(outside);
  if (!outside.empty())
    script.elements.push_back(outside.name() + " using 1:2 with points pt 8 ps 1.4 lc rgb '" +
                              approach_colour(2) +
                              "' title 'approach 2: minima outside the sizes trained'");
  add_target_elements(targets, script);
  if (script.elements.empty() || !y.valid()) {
    plot.why = "No approach gave " + std::string(tokens ? "D_opt(C)" : "N_opt(C)") + ": " +
               law_why(laws, "a", "no law was fitted");
    return plot;
  }
  const LogRange y_range = y.padded(0.05);
  script.text = preamble() + "set logscale xy\nset xrange " + x_range.gnuplot() + "\nset yrange " +
                y_range.gnuplot() + "\n" + log_tics("x", x_range, TicLabel::kSci) +
                log_tics("y", y_range, TicLabel::kCount) +
                "set xlabel 'C (training FLOPs)'\nset ylabel '" + what +
                (tokens ? " (tokens)" : " (parameters)") + "'\nset key top left\n" + script.text;
  plot.svg = run_gnuplot(gnuplot, script.text + script.plot_command(), 800, 520);
  return plot;
}

// Loss at the compute-optimal frontier: the IsoFLOP minima, Kaplan's L(C)
// with and without E, and approach 3's L(N_opt(C), D_opt(C)).
Plot frontier_plot(const FitData& data, const Analysis& analysis, const std::string& gnuplot) {
  Plot plot{"frontier", "Loss–compute frontier",
            "Loss against training FLOPs: every run (grey), the IsoFLOP minima, Kaplan-style "
            "L(C) fits to the minima with and without an irreducible term E, and approach 3's "
            "loss along its compute-optimal frontier, drawn out to the targets (error bars: "
            "the projections' bootstrap intervals).",
            "", ""};
  const LawSet& laws = analysis.laws;
  const double k = analysis.flops_per_param_token > 0 ? analysis.flops_per_param_token
                                                      : data.flops_per_param_token;
  Script script;
  LogRange x;
  DataBlock runs("runs"), minima("minima");
  for (const Observation& o : data.points) {
    runs.row({o.flops, o.loss});
    x.add(o.flops);
  }
  for (const Profile& p : laws.profiles)
    if (p.parabola) {
      minima.row({p.budget, p.loss_opt});
      x.add(p.budget);
    }
  std::vector<DataBlock> targets;
  for (int approach = 1; approach <= 3; ++approach) {
    DataBlock block("targets" + std::to_string(approach));
    for (const Projection& p : analysis.projections)
      if (p.approach == approach && positive(p.compute.value) && std::isfinite(p.loss.value)) {
        block.row(
            {p.compute.value * target_shift(approach), p.loss.value, lower(p.loss), upper(p.loss)});
        x.add(p.compute.value);
      }
    targets.push_back(block);
  }
  if (!x.valid()) {
    plot.why = "There are no runs to draw.";
    return plot;
  }
  const LogRange x_range = x.padded(0.05);
  const std::vector<double> line_x = log_spaced(x_range, kLinePoints);

  script.add(runs);
  if (!runs.empty())
    script.elements.push_back(runs.name() +
                              " using 1:2 with points pt 7 ps 0.5 lc rgb '#b0b0b0' title 'runs'");
  script.add(minima);
  if (!minima.empty())
    script.elements.push_back(minima.name() +
                              " using 1:2 with points pt 9 ps 1.4 lc rgb 'black' "
                              "title 'IsoFLOP minima (approach 2)'");
  auto add_line = [&](const std::string& name, const std::string& title, const std::string& style,
                      auto&& loss_at) {
    DataBlock block(name);
    for (double c : line_x) block.row({c, loss_at(c)});
    script.add(block);
    if (!block.empty())
      script.elements.push_back(block.name() + " using 1:2 with lines " + style + " title " +
                                gp_string(title));
  };
  char title[128];
  if (laws.kaplan_compute) {
    const OffsetPowerLaw law = *laws.kaplan_compute;
    std::snprintf(title, sizeof(title), "L = (C_c/C)^{α_C}, α_C = %.3f", law.exponent);
    add_line("kaplan", title, std::string("lw 2 dt 3 lc rgb '") + kKaplanColour + "'",
             [&](double c) { return law.at(c); });
  }
  if (laws.kaplan_compute_offset) {
    const OffsetPowerLaw law = *laws.kaplan_compute_offset;
    std::snprintf(title, sizeof(title), "L = E + (C_c/C)^{α_C}, E = %.3f, α_C = %.3f", law.E,
                  law.exponent);
    add_line("kaplan_offset", title, std::string("lw 2 dt 5 lc rgb '") + kKaplanOffsetColour + "'",
             [&](double c) { return law.at(c); });
  }
  if (const ParametricFit* a3 = laws.usable_a3()) {
    const ParametricLaw law = a3->law;
    add_line("a3", "approach 3: L(N_{opt}(C), D_{opt}(C))",
             std::string("lw 2 dt 4 lc rgb '") + approach_colour(3) + "'", [&](double c) {
               return law.loss(law.optimal_params(c, k), law.optimal_tokens(c, k));
             });
  }
  add_target_elements(targets, script);
  script.text = preamble() + "set logscale x\nset xrange " + x_range.gnuplot() + "\n" +
                log_tics("x", x_range, TicLabel::kSci) +
                "set xlabel 'C (training FLOPs)'\nset ylabel 'loss (nats/token)'\n"
                "set key top right\n" +
                script.text;
  plot.svg = run_gnuplot(gnuplot, script.text + script.plot_command(), 800, 520);
  return plot;
}

Plot curves_plot(const FitData& data, const Analysis& analysis, const std::string& gnuplot) {
  Plot plot{"curves", "Training curves",
            "Training loss against FLOPs spent for every run, coloured by model size N; the black "
            "line is approach 1's envelope, the lowest loss any run reached at each FLOP count.",
            "", ""};
  if (data.curves.empty()) {
    plot.why =
        is_table_path(data.source)
            ? "The input is a CSV table, which has no training curves."
            : "No training curves were read (the file has none, or they were not asked for).";
    return plot;
  }
  Script script;
  DataBlock curves("curves");
  LogRange sizes;
  std::vector<std::pair<double, double>> drawn;  // (FLOPs, loss) of every point written
  double min_loss = std::numeric_limits<double>::infinity();
  double max_loss = -min_loss, max_final = -min_loss;
  for (const LossCurve& curve : data.curves) {
    if (curve.observation < 0 || curve.observation >= int64_t(data.points.size())) continue;
    const double params = data.points[curve.observation].params;
    const size_t n = std::min(curve.flops.size(), curve.loss.size());
    const std::vector<double> flops(curve.flops.begin(), curve.flops.begin() + n);
    bool any = false;
    for (const auto& [f, loss] : binned_curve(flops, curve.loss, kMaxCurvePoints)) {
      curves.row({f, loss, params});
      drawn.emplace_back(f, loss);
      min_loss = std::min(min_loss, loss);
      max_loss = std::max(max_loss, loss);
      any = true;
    }
    if (!any) continue;
    sizes.add(params);
    for (size_t i = n; i-- > 0;)
      if (std::isfinite(curve.loss[i])) {
        max_final = std::max(max_final, curve.loss[i]);
        break;
      }
    curves.gap();
  }
  if (curves.empty() || !sizes.valid()) {
    plot.why = "The training curves hold no points with positive FLOPs.";
    return plot;
  }
  script.add(curves);
  script.elements.push_back(curves.name() + " using 1:2:3 with lines lw 1 lc palette notitle");
  DataBlock envelope("envelope");
  const Envelope& e = analysis.laws.envelope;
  const size_t n = std::min(e.flops.size(), e.loss.size());
  const std::vector<double> envelope_flops(e.flops.begin(), e.flops.begin() + n);
  if (std::is_sorted(envelope_flops.begin(), envelope_flops.end()))
    for (size_t i : thin_log(envelope_flops, kMaxEnvelopePoints))
      envelope.row({e.flops[i], e.loss[i]});
  script.add(envelope);
  if (!envelope.empty())
    script.elements.push_back(
        envelope.name() +
        " using 1:2 with lines lw 2.5 lc rgb 'black' title 'approach 1 envelope'");
  // Early training losses (near ln V) would squeeze the end of training,
  // where the fits look, into a sliver: the y axis stops a little above the
  // worst final loss.
  const double top = std::min(max_loss, max_final + std::max(1.5 * (max_final - min_loss), 0.2));
  const double pad = 0.03 * (top - min_loss);
  LogRange x;  // only where the curves are inside the y range
  for (const auto& [flops, loss] : drawn)
    if (loss <= top + pad) x.add(flops);
  const LogRange x_range = x.padded(0.02);
  const LogRange cb_range = sizes.lo < sizes.hi ? sizes : sizes.padded(0);
  script.text = preamble() + kPalette + "set logscale x\nset xrange " + x_range.gnuplot() + "\n" +
                "set yrange [" + number(min_loss - pad) + ":" + number(top + pad) + "]\n" +
                "set logscale cb\nset cbrange " + cb_range.gnuplot() + "\n" +
                log_tics("cb", cb_range, TicLabel::kCount) +
                log_tics("x", x_range, TicLabel::kSci) +
                "set cblabel 'N (parameters)'\nset xlabel 'C (FLOPs spent)'\n"
                "set ylabel 'training loss (nats/token)'\nset key top right\n" +
                script.text;
  plot.svg = run_gnuplot(gnuplot, script.text + script.plot_command(), 860, 520);
  return plot;
}

Plot residuals_plot(const FitData& data, const Analysis& analysis, const std::string& gnuplot) {
  Plot plot{"residuals", "Residuals of approach 3",
            "ln L(N, D) predicted by approach 3 minus ln of the observed loss, for every run, "
            "against model size N, coloured by budget.",
            "", ""};
  if (!analysis.laws.usable_a3()) {
    plot.why = law_why(analysis.laws, "a3", "Approach 3 was not fitted");
    return plot;
  }
  const ParametricLaw& law = analysis.laws.usable_a3()->law;
  const std::vector<Group> groups = budget_groups(data, analysis.laws);
  Script script;
  LogRange x;
  double sum_squares = 0;
  int count = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    DataBlock block("residuals" + std::to_string(g));
    for (int64_t i : groups[g].points) {
      const Observation& o = data.points[i];
      const double residual = std::log(law.loss(o.params, o.tokens)) - std::log(o.loss);
      if (!std::isfinite(residual) || !positive(o.params)) continue;
      block.row({o.params, residual});
      x.add(o.params);
      sum_squares += residual * residual;
      ++count;
    }
    script.add(block);
    if (!block.empty())
      script.elements.push_back(block.name() + " using 1:2 with points pt 7 ps 1 lc rgb '" +
                                budget_colour(g, groups.size()) + "' title " +
                                gp_string(budget_label(groups[g].budget)));
  }
  if (count == 0) {
    plot.why = "No run has a finite residual.";
    return plot;
  }
  char rms[96];
  std::snprintf(rms, sizeof(rms), " Root-mean-square residual: %.4g.",
                std::sqrt(sum_squares / count));
  plot.caption += rms;
  script.elements.push_back("0 with lines lw 1 dt 2 lc rgb 'black' notitle");
  const LogRange x_range = x.padded(0.05);
  script.text = preamble() + "set logscale x\nset xrange " + x_range.gnuplot() + "\n" +
                log_tics("x", x_range, TicLabel::kCount) +
                "set xlabel 'N (parameters)'\nset ylabel 'ln L_{predicted} − ln L_{observed}'\n"
                "set key outside right top\n" +
                script.text;
  plot.svg = run_gnuplot(gnuplot, script.text + script.plot_command(), 900, 460);
  return plot;
}

// Two panels: N_opt and loss at each held-out budget, observed against each
// approach's prediction from the smaller budgets.
Plot backtest_plot(const Analysis& analysis, const std::string& gnuplot) {
  const Backtest& backtest = analysis.backtest;
  Plot plot{"backtest", "Backtest",
            "Each held-out budget's own IsoFLOP minimum (black) against what every approach "
            "predicted from the smaller budgets alone (error bars: bootstrap intervals; "
            "approaches are spread slightly along C so that their bars do not overlap).",
            "", ""};
  if (backtest.rows.empty()) {
    plot.why = backtest.why.empty() ? "No budgets were held out for a backtest."
                                    : "No backtest: " + backtest.why;
    return plot;
  }
  Script script;
  LogRange x, y;
  DataBlock observed("observed");
  std::vector<double> budgets;
  for (const BacktestRow& row : backtest.rows) {
    if (std::find(budgets.begin(), budgets.end(), row.budget) != budgets.end()) continue;
    budgets.push_back(row.budget);
    observed.row({row.budget, row.observed_params, row.observed_loss});
    x.add(row.budget);
    y.add(row.observed_params);
  }
  std::sort(budgets.begin(), budgets.end());
  script.add(observed);
  std::vector<std::string> params_elements, loss_elements;
  if (!observed.empty()) {
    params_elements.push_back(observed.name() +
                              " using 1:2 with points pt 7 ps 1.3 lc rgb 'black' title 'observed'");
    loss_elements.push_back(observed.name() +
                            " using 1:3 with points pt 7 ps 1.3 lc rgb 'black' title 'observed'");
  }
  for (int approach = 1; approach <= 3; ++approach) {
    DataBlock block("predicted" + std::to_string(approach));
    const double shift = target_shift(approach);
    for (const BacktestRow& row : backtest.rows) {
      if (row.approach != approach) continue;
      const Quantity& n = row.predicted_params;
      const Quantity& l = row.predicted_loss;
      block.row({row.budget * shift, n.value, lower(n), upper(n), l.value, lower(l), upper(l)});
      y.add(lower(n));
      y.add(upper(n));
    }
    script.add(block);
    if (block.empty()) continue;
    const std::string style = " with yerrorbars pt 5 ps 1 lw 1.5 lc rgb '" +
                              std::string(approach_colour(approach)) + "' title 'approach " +
                              std::to_string(approach) + "'";
    params_elements.push_back(block.name() + " using 1:2:3:4" + style);
    loss_elements.push_back(block.name() + " using 1:5:6:7" + style);
  }
  if (!x.valid() || !y.valid() || params_elements.empty()) {
    plot.why = "The backtest has no finite numbers to draw.";
    return plot;
  }
  const LogRange x_range = x.padded(0.3);
  const LogRange y_range = y.padded(0.1);
  script.elements = params_elements;
  std::string text = preamble() + script.text + "set multiplot layout 1,2\nset logscale xy\n" +
                     "set xrange " + x_range.gnuplot() + "\nset yrange " + y_range.gnuplot() +
                     "\n" + value_tics("x", budgets, TicLabel::kSci) +
                     log_tics("y", y_range, TicLabel::kCount) +
                     "set xlabel 'held-out budget C (FLOPs)'\nset ylabel 'N_{opt} (parameters)'\n"
                     "set key top left\n" +
                     script.plot_command();
  script.elements = loss_elements;
  text +=
      "unset logscale y\nset yrange [*:*]\nset ytics auto\nset ylabel 'loss at N_{opt} "
      "(nats/token)'\n"
      "set key top right\n" +
      script.plot_command() + "unset multiplot\n";
  plot.svg = run_gnuplot(gnuplot, text, 1000, 440);
  return plot;
}

// Errors are drawn on a log axis; an exact prediction sits at this floor (%).
constexpr double kErrorFloor = 1e-3;

// Two panels: |loss error| and |N_opt error| of every distance-backtest
// prediction against its extrapolation factor. One colour and marker shape
// per approach; filled markers are covered by their interval, open ones are
// not, crosses have none.
Plot distance_plot(const Analysis& analysis, const std::string& gnuplot) {
  const DistanceBacktest& distance = analysis.distance;
  Plot plot{"distance", "Error against extrapolation distance",
            "Every split's prediction of every larger budget: the error against the "
            "extrapolation factor (predicted budget / largest fitted budget). Filled markers: "
            "the observed value lies inside the prediction's interval; open: outside; crosses: "
            "no interval. Approaches are spread slightly along the factor so that their markers "
            "do not overlap.",
            "", ""};
  if (distance.rows.empty()) {
    plot.why = distance.why.empty() ? "There is no distance backtest."
                                    : "No distance backtest: " + distance.why;
    return plot;
  }
  // Per approach: filled, open and no-interval point types of one shape.
  const int kPointTypes[3][3] = {{7, 6, 2}, {5, 4, 2}, {9, 8, 2}};
  const char* kCoverageTitles[3] = {"covered", "not covered", "no interval"};
  auto coverage_index = [](Coverage c) {
    return c == Coverage::kCovered ? 0 : c == Coverage::kNotCovered ? 1 : 2;
  };
  Script script;
  LogRange x, y;
  std::vector<std::string> loss_elements, params_elements;
  for (int approach = 1; approach <= 3; ++approach) {
    for (int panel = 0; panel < 2; ++panel) {
      const bool loss_panel = panel == 0;
      for (int c = 0; c < 3; ++c) {
        DataBlock block(std::string(loss_panel ? "loss" : "params") + std::to_string(approach) +
                        "_" + std::to_string(c));
        for (const BacktestRow& row : distance.rows) {
          if (row.approach != approach) continue;
          const double error = loss_panel ? row.loss_relative_error : row.params_error;
          const Coverage coverage = loss_panel ? row.loss_covered : row.params_covered;
          if (!std::isfinite(error) || coverage_index(coverage) != c) continue;
          const double shown = std::max(100 * std::abs(error), kErrorFloor);
          block.row({row.extrapolation * target_shift(approach), shown});
          x.add(row.extrapolation);
          y.add(shown);
        }
        script.add(block);
        if (block.empty()) continue;
        (loss_panel ? loss_elements : params_elements)
            .push_back(
                block.name() + " using 1:2 with points pt " +
                std::to_string(kPointTypes[approach - 1][c]) + " ps 1.3 lc rgb '" +
                approach_colour(approach) + "' title " +
                gp_string("approach " + std::to_string(approach) + ", " + kCoverageTitles[c]));
      }
    }
  }
  if (!x.valid() || !y.valid()) {
    plot.why = "The distance backtest has no finite errors to draw.";
    return plot;
  }
  // Ticks at the summary's factor groups: the rows' own factors may lie a
  // few percent apart and their labels would overlap.
  std::vector<double> ticks;
  for (const DistanceSummary& s : distance.summary)
    if (std::find(ticks.begin(), ticks.end(), s.extrapolation) == ticks.end())
      ticks.push_back(s.extrapolation);
  std::sort(ticks.begin(), ticks.end());
  const LogRange x_range = x.padded(0.15);
  const LogRange y_range = y.padded(0.1);
  std::string text = preamble() + script.text + "set multiplot layout 1,2\nset logscale xy\n" +
                     "set xrange " + x_range.gnuplot() + "\nset yrange " + y_range.gnuplot() +
                     "\n" + value_tics("x", ticks, TicLabel::kFactor) +
                     log_tics("y", y_range, TicLabel::kPlain) +
                     "set xlabel 'extrapolation factor C / C_{largest fitted}'\n"
                     "set key outside below horizontal\n";
  script.elements = loss_elements;
  if (!loss_elements.empty())
    text += "set ylabel '|loss error| (% of the observed loss)'\n" + script.plot_command();
  script.elements = params_elements;
  text += "set ylabel '|N_{opt} error| (%)'\n" + script.plot_command() + "unset multiplot\n";
  plot.svg = run_gnuplot(gnuplot, text, 1100, 520);
  return plot;
}

// One colour per variant (tab10 after the approaches' three, then around).
const char* variant_colour(size_t i) {
  static const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                   "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
  return kColours[i % (sizeof(kColours) / sizeof(kColours[0]))];
}

// The C range both comparison plots share: the budgets, the multiplier's
// evaluation points and every crossover found.
LogRange comparison_range(const VariantStudy& study) {
  LogRange x;
  for (const VariantFit& v : study.variants)
    if (v.frontier)
      for (double b : v.data.budgets) x.add(b);
  for (const PairComparison& p : study.comparison.pairs) {
    for (const MultiplierRow& r : p.rows) x.add(r.compute);
    for (const Crossover& c : p.crossovers) x.add(c.compute.value);
  }
  return x.padded(0.05);
}

// Vertical dashed lines at the crossovers, labelled with the two variants:
// right of the line in the plot's left half, left of it in the right half
// (so that a crossover near the right edge keeps its label inside).
std::string crossover_marks(const Comparison& comparison, const LogRange& x) {
  std::string text;
  for (const PairComparison& p : comparison.pairs)
    for (const Crossover& c : p.crossovers) {
      const double where = std::log(c.compute.value / x.lo) / std::log(x.hi / x.lo);
      const bool left_half = !(where > 0.5);
      const std::string label = c.better_above + " overtakes " + c.better_below + " at " +
                                format_sci(c.compute.value, 3);
      text += "set arrow from " + number(c.compute.value) + ", graph 0 to " +
              number(c.compute.value) + ", graph 1 nohead dt 2 lw 1.5 lc rgb '#444444' back\n";
      text += "set label " + gp_string(left_half ? " " + label : label + " ") + " at " +
              number(c.compute.value) + ", graph 0.04 " + (left_half ? "left" : "right") +
              " textcolor rgb '#444444'\n";
    }
  return text;
}

Plot comparison_frontiers_plot(const VariantStudy& study, const std::string& gnuplot) {
  const Comparison& comparison = study.comparison;
  char level[16];
  std::snprintf(level, sizeof(level), "%g%%", 100 * comparison.confidence);
  Plot plot{"comparison-frontiers", "Compute-optimal loss frontiers of the variants",
            std::string("Each variant's compute-optimal loss L_opt(C) from ") +
                to_string(comparison.source) + " (lines) with its " + level +
                " bootstrap band, and its IsoFLOP minima (points). Grey: the compute where "
                "every compared variant was trained. Dashed: where one frontier overtakes "
                "another.",
            "", ""};
  if (comparison.compared.size() < 2) {
    plot.why = "Fewer than 2 variants are compared.";
    return plot;
  }
  const LogRange x_range = comparison_range(study);
  const std::vector<double> line_x = log_spaced(x_range, kLinePoints * 2);
  Script script;
  double lo_common = 0, hi_common = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < study.variants.size(); ++i) {
    const VariantFit& v = study.variants[i];
    if (!v.frontier) continue;
    lo_common = std::max(lo_common, v.data.budgets.front());
    hi_common = std::min(hi_common, v.data.budgets.back());
    const std::string id = std::to_string(i);
    DataBlock band("band" + id), line("line" + id), minima("minima" + id);
    for (double c : line_x) {
      const Interval q = frontier_at(v, c, comparison.confidence);
      line.row({c, q.value});
      if (std::isfinite(q.lo) && std::isfinite(q.hi)) band.row({c, q.lo, q.hi});
    }
    for (const Profile& p : v.analysis->laws.profiles)
      if (p.parabola) minima.row({p.budget, p.loss_opt});
    const std::string colour = variant_colour(i);
    script.add(band);
    if (!band.empty())
      script.elements.push_back(band.name() +
                                " using 1:2:3 with filledcurves fs transparent solid 0.18 "
                                "noborder lc rgb '" +
                                colour + "' title " + gp_string(v.name + ": " + level + " band"));
    script.add(line);
    script.elements.push_back(line.name() + " using 1:2 with lines lw 2 lc rgb '" + colour +
                              "' title " + gp_string(v.name + ": L_{opt}(C)"));
    script.add(minima);
    if (!minima.empty())
      script.elements.push_back(minima.name() + " using 1:2 with points pt 7 ps 0.9 lc rgb '" +
                                colour + "' title " + gp_string(v.name + ": IsoFLOP minima"));
  }
  std::string settings = preamble() + "set logscale x\nset xrange " + x_range.gnuplot() + "\n" +
                         log_tics("x", x_range, TicLabel::kSci) +
                         "set xlabel 'C (training FLOPs)'\nset ylabel 'loss (nats/token)'\n"
                         "set key top right\n";
  if (lo_common <= hi_common)
    settings += "set object 1 rect from " + number(lo_common) + ", graph 0 to " +
                number(hi_common) + ", graph 1 behind fc rgb '#f0f0f0' fs solid noborder\n";
  settings += crossover_marks(comparison, x_range);
  plot.svg = run_gnuplot(gnuplot, settings + script.text + script.plot_command(), 800, 520);
  return plot;
}

Plot comparison_multiplier_plot(const VariantStudy& study, const std::string& gnuplot) {
  const Comparison& comparison = study.comparison;
  char level[16];
  std::snprintf(level, sizeof(level), "%g%%", 100 * comparison.confidence);
  Plot plot{"comparison-multiplier", "Compute multiplier against C",
            std::string("For each pair, the compute multiplier of B over A: how much more "
                        "compute A needs to reach the loss B reaches with C (above 1: B is "
                        "better), with its ") +
                level +
                " interval over paired bootstrap replicates. Dashed: the crossovers, where the "
                "multiplier passes 1. Where A can never reach B's loss the line stops.",
            "", ""};
  if (comparison.pairs.empty()) {
    plot.why = "Fewer than 2 variants are compared.";
    return plot;
  }
  const LogRange x_range = comparison_range(study);
  const std::vector<double> line_x = log_spaced(x_range, kLinePoints * 2);
  auto variant = [&](const std::string& name) -> const VariantFit& {
    for (const VariantFit& v : study.variants)
      if (v.name == name) return v;
    return study.variants.front();
  };
  Script script;
  LogRange y;
  y.add(1);
  for (size_t i = 0; i < comparison.pairs.size(); ++i) {
    const PairComparison& p = comparison.pairs[i];
    const std::string id = std::to_string(i);
    DataBlock band("mband" + id), line("mline" + id);
    for (double c : line_x) {
      const Interval m = multiplier_at(variant(p.a), variant(p.b), c, comparison.confidence);
      if (positive(m.value)) {
        line.row({c, m.value});
        y.add(m.value);
      }
      if (positive(m.lo) && positive(m.hi) && std::isfinite(m.hi)) band.row({c, m.lo, m.hi});
    }
    const std::string colour = variant_colour(i);
    const std::string name = p.b + " over " + p.a;
    script.add(band);
    if (!band.empty())
      script.elements.push_back(band.name() +
                                " using 1:2:3 with filledcurves fs transparent solid 0.18 "
                                "noborder lc rgb '" +
                                colour + "' title " + gp_string(name + ": " + level + " interval"));
    script.add(line);
    if (!line.empty())
      script.elements.push_back(line.name() + " using 1:2 with lines lw 2 lc rgb '" + colour +
                                "' title " + gp_string(name));
  }
  if (!y.valid()) {
    plot.why = "No pair has a finite multiplier in the range drawn.";
    return plot;
  }
  // The bands can be far wider than the lines: the axis follows the lines.
  const LogRange y_range = y.padded(0.3);
  const std::string settings =
      preamble() + "set logscale xy\nset xrange " + x_range.gnuplot() + "\nset yrange " +
      y_range.gnuplot() + "\n" + log_tics("x", x_range, TicLabel::kSci) +
      log_tics("y", y_range, TicLabel::kPlain) +
      "set xlabel 'C (training FLOPs)'\nset ylabel 'compute multiplier C_A(L_B(C)) / C'\n"
      "set key top left\nset arrow from graph 0, first 1 to graph 1, first 1 nohead lw 1 "
      "lc rgb '#888888' back\n" +
      crossover_marks(comparison, x_range);
  plot.svg = run_gnuplot(gnuplot, settings + script.text + script.plot_command(), 800, 480);
  return plot;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A temporary directory removed on scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sweepd-gnuplot-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("cannot create a temporary directory for gnuplot in " +
                               std::filesystem::temp_directory_path().string());
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::vector<Plot> comparison_plots(const VariantStudy& study, const std::string& gnuplot) {
  return {comparison_frontiers_plot(study, gnuplot), comparison_multiplier_plot(study, gnuplot)};
}

std::string run_gnuplot(const std::string& gnuplot, const std::string& script, int width,
                        int height) {
  TempDir dir;
  const std::string script_path = dir.path() + "/plot.gp";
  const std::string svg_path = dir.path() + "/plot.svg";
  const std::string stderr_path = dir.path() + "/stderr.txt";
  {
    std::ofstream out(script_path, std::ios::binary);
    // `dynamic`: a viewBox and no fixed size, so the page scales the plot to
    // its column.
    out << "set terminal svg size " << width << "," << height
        << " dynamic enhanced font 'sans-serif,12' background rgb 'white'\n"
        << "set output " << gp_string(svg_path) << "\n"
        << script << "\nunset output\n";
    if (!out) throw std::runtime_error("cannot write the gnuplot script " + script_path);
  }
  const std::string command = shell_quoted(gnuplot) + " " + shell_quoted(script_path) +
                              " </dev/null >/dev/null 2>" + shell_quoted(stderr_path);
  const int status = std::system(command.c_str());
  const std::string svg = read_file(svg_path);
  std::string error = read_file(stderr_path);
  while (!error.empty() && std::isspace(static_cast<unsigned char>(error.back()))) error.pop_back();
  if (error.size() > 4000) error = "..." + error.substr(error.size() - 4000);
  std::string failure;
  if (status == -1) {
    failure = "could not be started";
  } else if (!WIFEXITED(status)) {
    failure = "was killed";
  } else if (WEXITSTATUS(status) != 0) {
    failure = "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WEXITSTATUS(status) == 127) failure += " (not found? install gnuplot-nox)";
  } else if (svg.find("</svg>") == std::string::npos) {
    failure = "wrote no SVG";
  }
  if (!failure.empty())
    throw std::runtime_error("gnuplot (" + gnuplot + ") " + failure +
                             (error.empty() ? "" : ":\n" + error));
  return svg;
}

std::string inline_svg(const std::string& svg, const std::string& id_prefix) {
  const auto start = svg.find("<svg");
  std::string text = start == std::string::npos ? svg : svg.substr(start);
  // gnuplot titles every document "Gnuplot": as a tooltip over the whole plot
  // it says nothing.
  const std::string title = "<title>Gnuplot</title>";
  if (const auto at = text.find(title); at != std::string::npos) text.erase(at, title.size());
  for (const std::string pattern : {"id='", "id=\"", "href='#", "href=\"#", "url(#"}) {
    std::string out;
    size_t from = 0;
    for (size_t at; (at = text.find(pattern, from)) != std::string::npos;
         from = at + pattern.size())
      out += text.substr(from, at - from) + pattern + id_prefix;
    text = out + text.substr(from);
  }
  return text;
}

std::vector<Plot> make_plots(const FitData& data, const Analysis& analysis,
                             const std::string& gnuplot) {
  std::vector<Plot> plots;
  plots.push_back(profiles_plot(data, analysis, gnuplot));
  plots.push_back(optimal_plot(data, analysis, /*tokens=*/false, gnuplot));
  plots.push_back(optimal_plot(data, analysis, /*tokens=*/true, gnuplot));
  plots.push_back(frontier_plot(data, analysis, gnuplot));
  plots.push_back(curves_plot(data, analysis, gnuplot));
  plots.push_back(residuals_plot(data, analysis, gnuplot));
  plots.push_back(backtest_plot(analysis, gnuplot));
  plots.push_back(distance_plot(analysis, gnuplot));
  return plots;
}

}  // namespace sweep::fit
