#pragma once
// The fit as one JSON document: `sweepd fit --json`, the report's .json, and
// what `predict` prints. Layout in docs/fit.md.

#include <nlohmann/json.hpp>

#include "fit/analysis.h"
#include "fit/fit_data.h"

namespace sweep::fit {

nlohmann::json to_json(const FitData& data, const Analysis& analysis);

}  // namespace sweep::fit
