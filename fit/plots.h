#pragma once
// The report's plots, drawn by gnuplot as SVG (fit/report.h puts them in the
// page).
//
// Each plot is one gnuplot script with its data inline ($name << EOD ...
// EOD blocks, numbers rounded to 6 significant digits so the SVGs stay
// small), run by the gnuplot program the caller names. Axis ranges and log
// ticks are set here rather than left to gnuplot, so that lines fitted to a
// few budgets can be drawn out to the targets' compute and ticks read "10K",
// "1e20" instead of "1x10^4". A plot whose data is absent (no training curves
// in a CSV table, no approach 3 fit, no backtest) is returned empty with the
// reason, never drawn empty.

#include <string>
#include <vector>

#include "fit/analysis.h"
#include "fit/comparison.h"
#include "fit/fit_data.h"

namespace sweep::fit {

struct Plot {
  std::string name;     // file-name part: <base>-<name>.svg; also the HTML ids' prefix
  std::string title;    // the section heading
  std::string caption;  // one or two sentences on what is drawn
  std::string svg;      // gnuplot's SVG document; empty when the plot is omitted
  std::string why;      // why it is omitted (when svg is empty)
};

// Every plot of the report, in the report's order: profiles, optimal-params,
// optimal-tokens, frontier, curves, residuals, backtest, distance (error
// against extrapolation distance). Omitted plots are
// included (empty svg, `why` set) so that callers can remove stale files.
// Throws std::runtime_error, with gnuplot's stderr, when gnuplot fails.
std::vector<Plot> make_plots(const FitData& data, const Analysis& analysis,
                             const std::string& gnuplot);

// The comparison of several variants (fit/comparison.h), in the report's
// order: "comparison-frontiers" (every compared variant's L_opt(C) with its
// bootstrap band and its IsoFLOP minima on one plot, the measured range
// shaded, the crossovers marked) and "comparison-multiplier" (each pair's
// compute multiplier against C with its band, M = 1 and the crossovers
// marked). Omitted, with the reason, when fewer than 2 variants are compared.
std::vector<Plot> comparison_plots(const VariantStudy& study, const std::string& gnuplot);

// Runs the program `gnuplot` on `script`, which must not set the terminal or
// the output (this function does: SVG, `width`×`height`), and returns the SVG
// document. Throws std::runtime_error naming the program, its exit status and
// its stderr when it fails or writes no SVG.
std::string run_gnuplot(const std::string& gnuplot, const std::string& script, int width = 800,
                        int height = 480);

// `svg` ready to sit inside an HTML page: the XML prolog and DOCTYPE removed,
// and every id (and reference to one) prefixed with `id_prefix`, because each
// gnuplot SVG defines the same ids (gpPt0, gnuplot_canvas, ...) and ids must
// be unique in a page.
std::string inline_svg(const std::string& svg, const std::string& id_prefix);

}  // namespace sweep::fit
