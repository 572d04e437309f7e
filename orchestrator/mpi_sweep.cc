// The sweep under mpirun: rank 0 coordinates (orchestrator/coordinator.h:
// scheduler, sole HDF5 writer, progress), the other ranks train in slots
// (worker/slot.h). An idle slot's leader asks rank 0 for work and gets the
// largest pending run that fits; the slot trains it data-parallel and its
// leader streams records back in batches.
//
// Faults: a run that throws (on any rank of its slot) or diverges is recorded
// and the sweep goes on; a failed run is retried up to sweep.max_attempts
// times. A dying process takes the MPI job down (Open MPI 4 has no ULFM);
// rerunning the same command resumes. A stop signal (SIGTERM, SIGUSR2,
// Ctrl-C) on any rank, or a stop message from rank 0, makes every slot
// checkpoint at its next step; rank 0 then flushes the file and everyone
// exits cleanly.

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "common/check.h"
#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/signals.h"
#include "orchestrator/commands.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/fit_stage.h"
#include "orchestrator/sweep_run.h"
#include "worker/comm.h"
#include "worker/protocol.h"
#include "worker/slot.h"
#include "worker/worker.h"

namespace sweep {

namespace {

using Clock = std::chrono::steady_clock;

// ---- rank 0 ----------------------------------------------------------------
int coordinate(const SweepSetup& setup, SweepStore& store, const SlotLayout& layout, bool json) {
  Coordinator coordinator(setup, store, layout.slot_sizes);
  const size_t slots = layout.leaders.size();
  std::map<int, int> by_size;
  for (int s : layout.slot_sizes) ++by_size[s];
  std::string shape;
  for (const auto& [ranks, count] : by_size) {
    shape += (shape.empty() ? "" : ", ") + std::to_string(count) + " of " + std::to_string(ranks) +
             (ranks == 1 ? " rank" : " ranks");
  }
  log_info((store.created() ? "writing " : "resuming ") + setup.output + ": " +
           std::to_string(coordinator.restart().runs_done) + " of " +
           std::to_string(setup.grid.runs.size()) + " runs finished; " + std::to_string(slots) +
           " slots (" + shape + ")" +
           (layout.idle_ranks ? ", " + std::to_string(layout.idle_ranks) + " ranks idle (no slot)"
                              : ""));

  size_t active = slots;
  double messages = 0, handling_seconds = 0;
  const auto sweep_start = Clock::now();
  while (active > 0) {
    if (stop_requested() && !coordinator.stopping()) {
      coordinator.stop();
      log_info("stop requested (" + stop_reason() + "): slots checkpoint and stop");
      for (size_t s = 0; s < slots; ++s) {
        if (coordinator.running_on(int(s)) >= 0) {
          const int zero = 0;
          SWEEP_MPI(MPI_Send(&zero, 1, MPI_INT, layout.leaders[s], kTagStop, MPI_COMM_WORLD));
        }
      }
    }
    int flag = 0;
    MPI_Status status;
    SWEEP_MPI(MPI_Iprobe(MPI_ANY_SOURCE, kTagToCoordinator, MPI_COMM_WORLD, &flag, &status));
    if (!flag) {
      coordinator.tick();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    const auto handling_start = Clock::now();
    int bytes = 0;
    SWEEP_MPI(MPI_Get_count(&status, MPI_BYTE, &bytes));
    std::vector<char> buffer(static_cast<size_t>(bytes));
    SWEEP_MPI(MPI_Recv(buffer.data(), bytes, MPI_BYTE, status.MPI_SOURCE, kTagToCoordinator,
                       MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    const Message m = unpack(buffer);
    const int slot = m.header.slot;
    switch (m.header.kind) {
      case MessageKind::kRequest: {
        const Assignment next = coordinator.on_start(slot).value_or(Assignment{});
        if (next.run < 0) --active;  // no work for it now, and none will appear: the slot exits
        SWEEP_MPI(
            MPI_Send(&next, sizeof(next), MPI_BYTE, status.MPI_SOURCE, kTagAssign, MPI_COMM_WORLD));
        break;
      }
      case MessageKind::kRecords:
        coordinator.on_records(slot, m.header.run, m.train, m.eval);
        break;
      case MessageKind::kResult:
        coordinator.on_result(slot, m.header.run, result_of(m));
        break;
    }
    messages += 1;
    handling_seconds += std::chrono::duration<double>(Clock::now() - handling_start).count();
  }
  if (messages > 0) {
    const double wall = std::chrono::duration<double>(Clock::now() - sweep_start).count();
    char text[200];
    std::snprintf(text, sizeof(text),
                  "coordinator: %.0f messages, %.1f us each on average (HDF5 writes included); "
                  "slots idle %.1f%% of %s",
                  messages, 1e6 * handling_seconds / messages,
                  100.0 * (1.0 - coordinator.busy_seconds() / (wall * double(slots))),
                  format_duration(wall).c_str());
    log_info(text);
  }
  return coordinator.finish(json);
}

// Every rank learns whether any rank failed; the lowest failing rank's message
// is printed once.
int agree_on_error(int code, const std::string& message, int rank) {
  int worst = 0;
  SWEEP_MPI(MPI_Allreduce(&code, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  if (worst == 0) return 0;
  int first = code != 0 ? rank : INT32_MAX, reporter = 0;
  SWEEP_MPI(MPI_Allreduce(&first, &reporter, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
  if (rank == reporter) {
    if (code == kExitUserError)
      std::fprintf(stderr, "%s\n", message.c_str());
    else
      log_error(message);
  }
  return worst;
}

template <typename F>
int attempt(F&& f, std::string& message) {
  try {
    f();
    return 0;
  } catch (const UserError& e) {
    message = e.what();
    return kExitUserError;
  } catch (const std::exception& e) {
    message = e.what();
    return kExitFailure;
  }
}

}  // namespace

int run_mpi_sweep(const RunOptions& options) {
  int provided = 0;
  SWEEP_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided));
  install_stop_handlers();
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  set_log_rank(rank, size);

  std::optional<SweepSetup> setup;
  std::optional<SweepStore> store;
  std::optional<FaultSpec> fault;
  std::string message;
  // Rank 0 first: it tokenizes the corpus into the cache the others then map.
  int code =
      rank == 0
          ? attempt(
                [&] {
                  fault = fault_from_environment();
                  setup.emplace(prepare_sweep(options.job_path, options.output, /*verbose=*/true));
                  store.emplace(SweepStore::open(setup->output, setup->info, setup->runs));
                },
                message)
          : 0;
  SWEEP_MPI(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
  if (code == 0 && rank != 0) {
    code = attempt(
        [&] {
          fault = fault_from_environment();
          setup.emplace(prepare_sweep(options.job_path, options.output, false));
        },
        message);
  }
  SlotLayout layout;
  std::string device = "cpu";
  int threads = 1;
  if (agree_on_error(code, message, rank) == 0) {
    layout = make_slot_layout(setup->job.resources.slot_sizes);
    code = attempt(
        [&] {
          if (layout.leaders.empty()) {
            setup->job.fail(
                "resources.ranks_per_run",
                "no slot fits: " + std::to_string(size) +
                    " ranks leave no node with this many workers beside the coordinator "
                    "(rank 0); start at least ranks_per_run + 1 ranks");
          }
          const int largest = *std::max_element(layout.slot_sizes.begin(), layout.slot_sizes.end());
          for (const RunSpec& run : setup->grid.runs) {
            const int64_t needed = setup->job.resources.ranks_needed(run.params.total);
            if (needed > largest) {
              setup->job.fail("resources.large_runs",
                              run.run_id + " needs a slot of " + std::to_string(needed) +
                                  " ranks, but the largest slot this job got has " +
                                  std::to_string(largest) + " (" + std::to_string(size) +
                                  " ranks started)");
            }
          }
          if (layout.slot >= 0) {
            device = choose_device(setup->job.resources.device, layout.node_rank);
            threads = choose_threads(setup->job.resources.threads_per_rank, layout.node_size);
            init_slot_nccl(layout, device);
          }
        },
        message);
  }
  int exit_code = agree_on_error(code, message, rank);
  if (exit_code == 0) {
    // From here a failure outside a run (a broken communicator, an HDF5 fault)
    // leaves the others waiting forever: it takes the job down, and a rerun resumes.
    try {
      if (rank == 0) {
        exit_code = coordinate(*setup, *store, layout, options.json);
      } else if (layout.slot >= 0) {
        serve_slot(SlotWork{setup->job, setup->grid, *setup->data, setup->output, fault}, layout,
                   device, threads);
      }
    } catch (const std::exception& e) {
      log_error(std::string(e.what()) +
                " (aborting the MPI job; rerun the same command to resume)");
      MPI_Abort(MPI_COMM_WORLD, kExitFailure);
    }
  }
  int final_code = 0;
  MPI_Allreduce(&exit_code, &final_code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  release_slot_communicators(layout);
  store.reset();
  MPI_Finalize();
  if (rank == 0 && final_code != kExitUserError && setup && !stop_requested())
    report_after_sweep(setup->output);
  return final_code;
}

}  // namespace sweep
