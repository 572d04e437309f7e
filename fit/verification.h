#pragma once
// Prediction vs outcome, as the GPT-4 technical report checked its predicted
// final loss: `sweepd predict FILE --compute C --emit-job NEW.toml` writes a
// job whose sizes bracket the predicted N_opt at C and whose [prediction]
// table holds what the laws said; the sweep stores it in its file before its
// first run trains (FitData::predictions). Here it meets the runs.
//
// The observed optimum at C is the minimum of approach 2's parabola through
// the runs of that budget (the IsoFLOP profile, as the backtest's truth) and,
// needing no fit, the best run. Errors: N_opt predicted / observed − 1; the
// loss predicted − observed in nats, and relative to the observed loss.
// "Inside" is three-valued, as in the backtest: a prediction without an
// interval (no bootstrap) is neither inside nor outside.
//
// A verification sweep has one budget, so it supports no law of its own:
// profiles_only_analysis() gives the analysis `sweepd fit` and `report` show
// for it (the profile, and why each law is missing).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fit/analysis.h"
#include "fit/document.h"
#include "fit/fit_data.h"
#include "fit/options.h"

namespace sweep::fit {

// One approach's prediction against the observed optimum.
struct VerificationRow {
  PredictedOptimum predicted;
  // Against the parabola minimum (NaN without one), then against the best run.
  double params_error = NAN, loss_error = NAN;  // predicted / observed − 1; nats
  double best_params_error = NAN, best_loss_error = NAN;
  Coverage params_inside = Coverage::kNoInterval, loss_inside = Coverage::kNoInterval;
  Coverage best_params_inside = Coverage::kNoInterval, best_loss_inside = Coverage::kNoInterval;
};

struct Verification {
  Prediction prediction;
  // The profile at the predicted budget; runs == 0 when there is none yet.
  double budget = 0;
  size_t runs = 0;
  bool has_minimum = false;                 // approach 2's parabola has a minimum
  double params_opt = NAN, loss_opt = NAN;  // its vertex
  bool bracketed = false;                   // the vertex lies within the sizes trained
  std::string why;                          // why there is no minimum
  std::string best_run;
  double best_params = NAN, best_loss = NAN;
  std::vector<VerificationRow> rows;  // one per predicted approach
};

// One per stored prediction, in FitData order; none without one.
std::vector<Verification> verify_predictions(const FitData& data, const Analysis& analysis);

// The report's "Prediction vs outcome" section; nothing when no prediction
// is stored.
void verification_section(Document& doc, const FitData& data, const Analysis& analysis);

// `fit_json` (fit/fit_json.h) with the same numbers under "verification": an
// array, one entry per stored prediction (numbers that do not exist are
// null); unchanged when no prediction is stored.
nlohmann::json with_verification(nlohmann::json fit_json, const FitData& data,
                                 const Analysis& analysis);

// The analysis of data that supports no law (analyze() refused it with
// `why`): every requested law's attempt with its reason, the IsoFLOP profiles,
// no bootstrap, no backtest, and `why` as the first warning.
Analysis profiles_only_analysis(const FitData& data, const AnalysisOptions& options,
                                const std::string& why);

}  // namespace sweep::fit
