#pragma once
// The report of a fit: one self-contained HTML page (plots as inline SVG, made
// by gnuplot), the same content as Markdown (plots as SVG files beside it), and
// the fit as JSON (fit/fit_json.h). `sweepd report FILE` writes it, and a
// sweep writes it when its last run is done.
//
// Contents: the data (runs fitted and excluded), IsoFLOP profiles with their
// fitted parabolas and minima; N_opt(C) and D_opt(C) with interval bands and
// the three approaches side by side; the loss–compute frontier extrapolated
// to the targets; training curves coloured by model size; residuals of
// approach 3; the backtest; the error against extrapolation distance (every
// split's prediction of every larger budget); the seed-noise floor; the
// projections with tokens per parameter.

#include <string>
#include <vector>

#include "fit/analysis.h"
#include "fit/comparison.h"
#include "fit/fit_data.h"

namespace sweep::fit {

struct ReportOptions {
  std::string output_base;          // writes <base>.html, <base>.md, <base>.json, <base>-*.svg
  std::string title;                // page title; "" = from the data source
  std::string gnuplot = "gnuplot";  // the program
};

struct ReportFiles {
  std::string html, markdown, json;
  std::vector<std::string> plots;  // the SVG files beside the Markdown
};

// The report's text without plots (and without the table of every quantity),
// for a terminal: what `sweepd fit` prints.
std::string fit_text(const FitData& data, const Analysis& analysis);

// Several variants (fit/comparison.h): an overview of the variants and their
// settings, each fitted variant's sections as above headed by its name
// ("gpt2: Data", its plots named <variant>-<plot>), and the comparison: the
// frontiers with their bands on one plot, per pair the settings that differ
// (architecture or recipe), the compute multiplier at the budgets and the
// targets (or 10× and 100× the largest budget), the crossovers or "no
// crossover between C1 and C2", and the multiplier against C.
std::string fit_text(const VariantStudy& study);
ReportFiles write_report(const VariantStudy& study, const ReportOptions& options);

// Throws std::runtime_error when gnuplot fails; UserError when the output
// cannot be written. Files are written to temporaries and renamed, so a
// failure leaves no half-written report.
ReportFiles write_report(const FitData& data, const Analysis& analysis,
                         const ReportOptions& options);

}  // namespace sweep::fit
