// libFuzzer harness: a CSV table given to `sweepd fit TABLE.csv`.
//
// The input is the table's bytes. read_csv_table() takes a path, so the input
// is written to a scratch file named table.csv (comma-separated; the .tsv
// path differs only in the separator) and read with default options, which
// also infers budgets and selects points as the fit does. A UserError is the
// expected answer to a bad table; see fuzz_input.h for what is a finding.
// A table that is accepted must also give the fit what it relies on: every
// point's N, D, C, loss and budget finite and positive (the laws take their
// logarithms); anything else is a finding too.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "fit/fit_data.h"
#include "fuzz/fuzz_input.h"

namespace {

void require_usable(const sweep::fit::Observation& p) {
  for (double value : {p.params, p.tokens, p.flops, p.loss, p.budget}) {
    if (std::isfinite(value) && value > 0) continue;
    std::fprintf(stderr,
                 "fuzz_fit_csv: accepted a point the fit cannot use: %s params %g tokens %g "
                 "flops %g loss %g budget %g\n",
                 p.run_id.c_str(), p.params, p.tokens, p.flops, p.loss, p.budget);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sweep::fuzz::write_input(data, size, "table.csv");
  try {
    const sweep::fit::FitData table = sweep::fit::read_csv_table(path, {});
    for (const sweep::fit::Observation& p : table.points) require_usable(p);
    const size_t profiles = table.profiles().size();  // checks every point has its budget
    sweep::fuzz::note_accepted("table: " + std::to_string(table.points.size()) + " points, " +
                               std::to_string(profiles) + " budgets");
  } catch (const sweep::UserError& e) {
    sweep::fuzz::note_refused(e);
  }
  return 0;
}
