#include "worker/fault.h"

#include <cstdlib>
#include <sstream>

#include "common/error.h"

namespace sweep {

namespace {

int64_t parse_count(const std::string& key, const std::string& value, int64_t least) {
  char* end = nullptr;
  const long long n = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < least) {
    throw UserError("SWEEP_FAULT: " + key + "=" + value +
                    ": expected an integer >= " + std::to_string(least));
  }
  return n;
}

}  // namespace

FaultSpec parse_fault(const std::string& text) {
  FaultSpec spec;
  bool have_run = false, have_step = false;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw UserError("SWEEP_FAULT: '" + item + "': expected key=value (keys: run, step, rank, " +
                      "kind, attempt)");
    }
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "run") {
      spec.run_id = value;
      have_run = !value.empty();
    } else if (key == "step") {
      spec.step = parse_count(key, value, 1);
      have_step = true;
    } else if (key == "rank") {
      spec.rank = int(parse_count(key, value, 0));
    } else if (key == "attempt") {
      spec.attempt = parse_count(key, value, 1);
    } else if (key == "kind") {
      if (value == "throw")
        spec.kind = FaultInjection::Kind::kThrow;
      else if (value == "nan")
        spec.kind = FaultInjection::Kind::kNan;
      else if (value == "exit")
        spec.kind = FaultInjection::Kind::kExit;
      else
        throw UserError("SWEEP_FAULT: kind=" + value + ": expected throw, nan or exit");
    } else {
      throw UserError("SWEEP_FAULT: unknown key '" + key +
                      "' (keys: run, step, rank, kind, attempt)");
    }
  }
  if (!have_run || !have_step) {
    throw UserError("SWEEP_FAULT=\"" + text + "\": needs run=<run_id> and step=<k>");
  }
  return spec;
}

std::optional<FaultSpec> fault_from_environment() {
  const char* text = std::getenv("SWEEP_FAULT");
  if (!text || !*text) return std::nullopt;
  return parse_fault(text);
}

FaultInjection fault_for(const std::optional<FaultSpec>& spec, const std::string& run_id, int rank,
                         int64_t attempt) {
  FaultInjection fault;
  if (!spec || spec->run_id != run_id || spec->rank != rank) return fault;
  if (spec->attempt > 0 && spec->attempt != attempt) return fault;
  fault.kind = spec->kind;
  fault.step = spec->step;
  return fault;
}

}  // namespace sweep
