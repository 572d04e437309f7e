// libFuzzer harness: a foreign, truncated or damaged HDF5 file opened as a
// sweep's file, as `sweepd status` and `sweepd fit FILE.h5` open it.
//
// The input is the file's bytes, written to a scratch file sweep.h5. The
// harness opens it read-only (SweepStore::open_read_only) and reads everything
// the store exposes: info(), runs(), for each run its progress, training
// curve and evaluation curve, and attempts(). A UserError is the expected answer to a file
// that is not a sweep's; see fuzz_input.h for what is a finding. Here an HDF5
// object left open after the store is gone is one too (a handle leak).
//
// HDF5 itself is not instrumented, so libFuzzer's coverage feedback sees only
// storage/store.cc; most mutations inside HDF5's structures are blind. The
// seeds (fuzz/corpus/sweep_file/) are real sweep files, so mutations start
// from files that get past the superblock.

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "fuzz/fuzz_input.h"
#include "storage/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sweep::fuzz::write_input(data, size, "sweep.h5");
  try {
    const sweep::SweepStore store = sweep::SweepStore::open_read_only(path);
    size_t seen = store.info().job_text.size() + store.info().fingerprint.size();
    for (size_t i = 0; i < store.runs().size(); ++i) {
      const int64_t index = static_cast<int64_t>(i);
      seen += store.progress(index).reason.size();
      seen += store.train_curve(index).size();
      seen += store.eval_curve(index).size();
    }
    for (const sweep::AttemptRecord& attempt : store.attempts()) seen += attempt.reason.size();
    sweep::fuzz::note_accepted("sweep file: " + std::to_string(store.runs().size()) + " runs, " +
                               std::to_string(seen) + " items read");
  } catch (const sweep::UserError& e) {
    sweep::fuzz::note_refused(e);
  }
  // HDF5 frees what is still open at exit, so LeakSanitizer cannot see a
  // handle the store forgot to close; count them instead.
  const ssize_t open_objects = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open_objects != 0) {
    std::fprintf(stderr, "fuzz_sweep_file: %zd HDF5 objects left open after the store closed\n",
                 open_objects);
    std::abort();
  }
  return 0;
}
