// The sweep under mpirun: rank 0 coordinates (orchestrator/coordinator.h:
// scheduler, sole HDF5 writer, progress), the other ranks train in groups
// (worker/slot.h). Whenever ranks are free, rank 0 asks the scheduler for the
// next run and its group and sends the assignment to every rank of the
// group; the group trains it data-parallel and its leader streams records
// back in batches and reports how the run ended.
//
// Faults: a run that throws (on any rank of its group) or diverges is
// recorded and the sweep goes on; a failed run is retried up to
// sweep.max_attempts times. A dying process takes the MPI job down (Open MPI
// 4 has no ULFM); rerunning the same command resumes. A stop signal (SIGTERM,
// SIGUSR2, Ctrl-C) on any rank, or a stop message from rank 0, makes every
// group checkpoint at its next step; rank 0 then flushes the file and
// everyone exits cleanly.

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
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
#include "orchestrator/hardware_plan.h"
#include "orchestrator/sweep_run.h"
#include "worker/comm.h"
#include "worker/protocol.h"
#include "worker/slot.h"
#include "worker/worker.h"

namespace sweep {

namespace {

using Clock = std::chrono::steady_clock;

// ---- rank 0 ----------------------------------------------------------------
std::string ranks_text(int ranks) { return std::to_string(ranks) + (ranks == 1 ? " rank" : " ranks"); }

// "2 slots (1 of 1 rank, 1 of 2 ranks)", or for nested groups "nested groups
// on 2 nodes: 8 of 1 rank, ..., 1 of 8 ranks (2 nodes)".
std::string layout_text(const GroupLayout& layout, bool nested) {
  std::map<int, std::pair<int, int>> by_size;  // size -> (count, nodes)
  for (const SlotGroup& g : layout.groups) {
    ++by_size[g.size()].first;
    by_size[g.size()].second = g.nodes;
  }
  std::string shape;
  for (const auto& [ranks, count_nodes] : by_size) {
    shape += (shape.empty() ? "" : ", ") + std::to_string(count_nodes.first) + " of " +
             ranks_text(ranks) +
             (nested && count_nodes.second > 1 ? " (" + std::to_string(count_nodes.second) + " nodes)"
                                               : "");
  }
  const std::string text =
      nested ? "nested groups on " + std::to_string(layout.nodes.size()) + " nodes: " + shape
             : std::to_string(layout.groups.size()) + " slots (" + shape + ")";
  return text + (layout.idle_ranks ? ", " + std::to_string(layout.idle_ranks) +
                                         " ranks idle (in no group)"
                                   : "");
}

void send_assignment(const Assignment& assignment, const SlotGroup& group) {
  for (int rank : group.ranks)
    SWEEP_MPI(MPI_Send(&assignment, sizeof(assignment), MPI_BYTE, rank, kTagAssign, MPI_COMM_WORLD));
}

int coordinate(const SweepSetup& setup, SweepStore& store, const GroupLayout& layout, bool json) {
  Coordinator coordinator(setup, store, layout.groups);
  log_info((store.created() ? "writing " : "resuming ") + setup.output + ": " +
           std::to_string(coordinator.restart().runs_done) + " of " +
           std::to_string(setup.grid.runs.size()) + " runs finished; " +
           layout_text(layout, setup.job.resources.auto_slots));

  // Every run the scheduler can place now goes out to its group's ranks.
  auto start_what_fits = [&] {
    while (const std::optional<Coordinator::Start> s = coordinator.next_start()) {
      const SlotGroup& group = layout.groups[size_t(s->group)];
      send_assignment(s->assignment, group);
      if (setup.job.resources.auto_slots) {
        log_info(setup.grid.runs[size_t(s->assignment.run)].run_id + " attempt " +
                 std::to_string(s->assignment.attempt) + " on group " +
                 std::to_string(s->group) + ": " + ranks_text(group.size()) + " on " +
                 std::to_string(group.nodes) + (group.nodes == 1 ? " node" : " nodes") +
                 " (world ranks " + std::to_string(group.ranks.front()) + "-" +
                 std::to_string(group.ranks.back()) + ")");
      }
    }
  };
  start_what_fits();

  int workers = 0;
  for (const auto& node : layout.nodes) workers += int(node.size()) ;
  workers -= layout.idle_ranks;
  double messages = 0, handling_seconds = 0;
  const auto sweep_start = Clock::now();
  while (!coordinator.done()) {
    if (stop_requested() && !coordinator.stopping()) {
      coordinator.stop();
      log_info("stop requested (" + stop_reason() + "): groups checkpoint and stop");
      for (size_t g = 0; g < layout.groups.size(); ++g) {
        if (coordinator.running_on(int(g)) >= 0) {
          const int zero = 0;
          SWEEP_MPI(MPI_Send(&zero, 1, MPI_INT, layout.groups[g].ranks.front(), kTagStop,
                             MPI_COMM_WORLD));
        }
      }
    }
    if (coordinator.running() == 0 && !coordinator.done()) {
      throw std::logic_error("the scheduler placed no pending run with every rank free");
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
    const int group = m.header.slot;
    switch (m.header.kind) {
      case MessageKind::kRecords:
        coordinator.on_records(group, m.header.run, m.train, m.eval);
        break;
      case MessageKind::kResult:
        coordinator.on_result(group, m.header.run, result_of(m));
        start_what_fits();
        break;
    }
    messages += 1;
    handling_seconds += std::chrono::duration<double>(Clock::now() - handling_start).count();
  }
  // No more work: every rank in a group leaves its serve loop.
  std::set<int> ranks;
  for (const SlotGroup& g : layout.groups) ranks.insert(g.ranks.begin(), g.ranks.end());
  const Assignment none;
  for (int rank : ranks)
    SWEEP_MPI(MPI_Send(&none, sizeof(none), MPI_BYTE, rank, kTagAssign, MPI_COMM_WORLD));
  if (messages > 0) {
    const double wall = std::chrono::duration<double>(Clock::now() - sweep_start).count();
    char text[200];
    std::snprintf(text, sizeof(text),
                  "coordinator: %.0f messages, %.1f us each on average (HDF5 writes included); "
                  "ranks idle %.1f%% of %s",
                  messages, 1e6 * handling_seconds / messages,
                  100.0 * (1.0 - coordinator.busy_rank_seconds() / (wall * double(workers))),
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
  GroupLayout layout;
  std::string device = "cpu";
  int threads = 1;
  if (agree_on_error(code, message, rank) == 0) {
    code = attempt(
        [&] {
          const JobSpec& job = setup->job;
          layout = make_group_layout(layout_request(job, job.resources.auto_slots));
          if (layout.groups.empty()) {
            job.fail("resources.ranks_per_run",
                     "no slot fits: " + std::to_string(size) +
                         " ranks leave no node with this many workers beside the coordinator "
                         "(rank 0); start at least ranks_per_run + 1 ranks");
          }
          int largest = 0;
          for (const SlotGroup& g : layout.groups) largest = std::max(largest, g.size());
          const std::vector<int> needed =
              runs_ranks_needed(job, setup->grid, layout.groups, job.resources.memory_per_rank,
                                job.resources.device != "cpu");
          for (size_t i = 0; i < needed.size(); ++i) {
            const RunSpec& run = setup->grid.runs[i];
            if (needed[i] == 0) {
              job.fail("resources.memory_per_rank",
                       run.run_id + " fits in no group of this layout (the memory model, "
                                    "docs/cluster.md); shard it or give it more ranks");
            }
            if (needed[i] > largest) {
              job.fail("resources.large_runs",
                       run.run_id + " needs a slot of " + std::to_string(needed[i]) +
                           " ranks, but the largest slot this job got has " +
                           std::to_string(largest) + " (" + std::to_string(size) +
                           " ranks started)");
            }
          }
          if (layout.worker()) {
            device = choose_device(job.resources.device, layout.node_rank);
            threads = choose_threads(job.resources.threads_per_rank, layout.node_size);
            init_group_nccl(layout, device);
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
      } else if (layout.worker()) {
        serve_groups(SlotWork{setup->job, setup->grid, *setup->data, setup->output, fault},
                     layout, device, threads);
      }
    } catch (const std::exception& e) {
      log_error(std::string(e.what()) +
                " (aborting the MPI job; rerun the same command to resume)");
      MPI_Abort(MPI_COMM_WORLD, kExitFailure);
    }
  }
  int final_code = 0;
  MPI_Allreduce(&exit_code, &final_code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  release_group_communicators(layout);
  store.reset();
  MPI_Finalize();
  if (rank == 0 && final_code != kExitUserError && setup && !stop_requested())
    report_after_sweep(setup->output);
  return final_code;
}

}  // namespace sweep
