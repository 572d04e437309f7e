#include "fit/merge.h"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "common/error.h"

namespace sweep::fit {
namespace {

// The prefix of a source's clashing run ids: its stem, or its path where
// another source has the same stem (runs/a.h5 and old/a.h5).
std::vector<std::string> prefixes(const std::vector<FitData>& sources) {
  std::map<std::string, int> stems;
  for (const FitData& s : sources) ++stems[std::filesystem::path(s.source).stem().string()];
  std::vector<std::string> out;
  for (const FitData& s : sources) {
    const std::string stem = std::filesystem::path(s.source).stem().string();
    out.push_back(stems[stem] > 1 ? s.source : stem);
  }
  return out;
}

std::string canonical(const std::string& path) {
  std::error_code ignored;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, ignored);
  return p.empty() ? path : p.string();
}

}  // namespace

FitData merge_fit_data(std::vector<FitData> sources, const InputOptions& options) {
  if (sources.empty()) throw UserError("no sweep file or table to fit");
  FitData merged;
  merged.flop_convention = sources.front().flop_convention;
  std::set<std::string> seen;
  for (const FitData& s : sources) {
    if (!seen.insert(canonical(s.source)).second)
      throw UserError(s.source + ": given twice; each file is merged once");
    if (s.flop_convention != merged.flop_convention)
      throw UserError(sources.front().source + " counts FLOPs with the " + merged.flop_convention +
                      " convention and " + s.source + " with " + s.flop_convention +
                      "; a merged fit needs one convention (docs/flops.md)");
  }

  // Which files each run id occurs in: ids in more than one get a prefix.
  std::map<std::string, std::set<size_t>> files_of;
  for (size_t f = 0; f < sources.size(); ++f) {
    for (const Observation& p : sources[f].points) files_of[p.run_id].insert(f);
    for (const Excluded& e : sources[f].excluded) files_of[e.run_id].insert(f);
  }
  const std::vector<std::string> prefix = prefixes(sources);
  int64_t renamed = 0;
  auto name = [&](size_t f, const std::string& id) {
    if (files_of[id].size() < 2) return id;
    ++renamed;
    return prefix[f] + "/" + id;
  };

  std::vector<LossCurve> curves_by_point;
  std::string summary;
  for (size_t f = 0; f < sources.size(); ++f) {
    FitData& s = sources[f];
    merged.source += (f ? ", " : "") + s.source;
    summary += (f ? ", " : "") + s.source + " (" + std::to_string(s.points.size()) + " runs)";
    std::vector<LossCurve> curves(s.points.size());
    for (LossCurve& c : s.curves) curves[size_t(c.observation)] = std::move(c);
    for (size_t i = 0; i < s.points.size(); ++i) {
      Observation p = s.points[i];
      p.run_id = name(f, p.run_id);
      merged.points.push_back(std::move(p));
      curves_by_point.push_back(std::move(curves[i]));
    }
    for (Excluded e : s.excluded) {
      e.run_id = name(f, e.run_id);
      merged.excluded.push_back(std::move(e));
    }
    for (const std::string& note : s.notes) merged.notes.push_back(s.source + ": " + note);
    for (Prediction& p : s.predictions) merged.predictions.push_back(std::move(p));
    for (Tuning& t : s.tuning) merged.tuning.push_back(std::move(t));
  }
  merged.notes.insert(merged.notes.begin(),
                      "merged from " + std::to_string(sources.size()) + " files: " + summary);
  if (renamed > 0)
    merged.notes.push_back(std::to_string(renamed) +
                           " run ids occur in more than one file: each is prefixed by its "
                           "file's stem (stem/run)");
  // k over every file's runs, as for one sweep (fit/fit_data.h).
  if (!merged.points.empty())
    merged.flops_per_param_token = median_flops_per_param_token(merged.points);
  finish_fit_data(merged, std::move(curves_by_point), options);
  return merged;
}

}  // namespace sweep::fit
