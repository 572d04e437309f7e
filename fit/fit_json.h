#pragma once
// The fit as one JSON document: `sweepd fit --json`, the report's .json, and
// what `predict` prints. Layout in docs/fit.md.

#include <nlohmann/json.hpp>

#include "fit/analysis.h"
#include "fit/comparison.h"
#include "fit/fit_data.h"

namespace sweep::fit {

nlohmann::json to_json(const FitData& data, const Analysis& analysis);

// Several variants (fit/comparison.h): the whole data's source, conventions,
// budgets, notes, options and the runs not fitted that name no variant;
// `variant_order`; `variants`, by name, each variant's object as above (or
// its `why`) with its `settings`; and `comparison`. Layout in docs/fit.md.
nlohmann::json to_json(const VariantStudy& study);

// Pieces of it, for commands that print part of a fit (`sweepd predict`).
nlohmann::json to_json(const Quantity& quantity);      // key, label, value, lo, hi, replicates
nlohmann::json to_json(const Projection& projection);  // target, approach and its quantities

}  // namespace sweep::fit
