// The sweep under mpirun: rank 0 coordinates (scheduler, sole HDF5 writer,
// progress), the other ranks train in slots (worker/comm.h). An idle slot's
// leader asks rank 0 for work and gets the largest pending run that fits; the
// slot trains it data-parallel and its leader streams records back in batches.
//
// Faults: a run that throws or diverges is recorded and the sweep goes on. A
// dying process takes the MPI job down (Open MPI 4 has no ULFM); rerunning the
// same command resumes. A stop signal (SIGTERM, SIGUSR2, Ctrl-C) on any rank,
// or a stop message from rank 0, makes every slot checkpoint at its next step;
// rank 0 then flushes the file and everyone exits cleanly.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <thread>

#include "common/error.h"
#include "common/format.h"
#include "common/log.h"
#include "common/signals.h"
#include "orchestrator/commands.h"
#include "orchestrator/protocol.h"
#include "orchestrator/scheduler.h"
#include "orchestrator/fit_stage.h"
#include "orchestrator/sweep_run.h"
#include "worker/comm.h"
#include "worker/worker.h"

namespace sweep {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kTagStop = 13;           // coordinator -> leader: checkpoint and stop
constexpr size_t kRecordBatch = 64;    // train records per message, at most
constexpr double kBatchSeconds = 1.0;  // or this long after the first unsent one

void send_to_coordinator(const Message& message) {
  const std::vector<char> bytes = pack(message);
  SWEEP_MPI(
      MPI_Send(bytes.data(), int(bytes.size()), MPI_BYTE, 0, kTagToCoordinator, MPI_COMM_WORLD));
}

// ---- a slot: ask for a run, train it, report, repeat -----------------------
void serve_slot(const SweepSetup& setup, const SlotLayout& layout, const std::string& device,
                int threads) {
  const JobSpec& job = setup.job;
  const auto all_reduce = slot_all_reduce(layout);
  bool told_to_stop = false;
  auto local_stop = [&] {
    if (layout.leader() && !told_to_stop) {
      int flag = 0;
      SWEEP_MPI(MPI_Iprobe(0, kTagStop, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE));
      if (flag) {
        int ignored = 0;
        SWEEP_MPI(MPI_Recv(&ignored, 1, MPI_INT, 0, kTagStop, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        told_to_stop = true;
      }
    }
    return told_to_stop || stop_requested();
  };
  const auto stop = slot_stop_flag(layout, local_stop);

  while (true) {
    int run = -1;
    if (layout.leader()) {
      Message request;
      request.header.kind = MessageKind::kRequest;
      request.header.slot = layout.slot;
      send_to_coordinator(request);
      SWEEP_MPI(MPI_Recv(&run, 1, MPI_INT, 0, kTagAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    }
    if (layout.slot_size > 1) SWEEP_MPI(MPI_Bcast(&run, 1, MPI_INT, 0, layout.slot_comm));
    if (run < 0) return;
    const RunSpec& spec = setup.grid.runs[size_t(run)];

    Message batch;
    batch.header.kind = MessageKind::kRecords;
    batch.header.slot = layout.slot;
    batch.header.run = run;
    auto first_unsent = Clock::now();
    auto send_batch = [&] {
      if (batch.train.empty() && batch.eval.empty()) return;
      send_to_coordinator(batch);
      batch.train.clear();
      batch.eval.clear();
    };
    RunSink sink;  // called on the slot leader only
    sink.on_train = [&](const TrainRecord& r) {
      if (batch.train.empty()) first_unsent = Clock::now();
      batch.train.push_back(r);
      if (batch.train.size() >= kRecordBatch ||
          std::chrono::duration<double>(Clock::now() - first_unsent).count() > kBatchSeconds) {
        send_batch();
      }
    };
    sink.on_eval = [&](const EvalRecord& r) {
      batch.eval.push_back(r);
      send_batch();
    };
    TrainConfig config = make_train_config(job, spec, device, threads);
    config.rank = layout.slot_rank;
    config.world = layout.slot_size;
    const WorkerResult result =
        run_one(config, *setup.data, sink, checkpoint_path(setup.output, spec),
                job.sweep.checkpoint_interval, stop, all_reduce);
    if (layout.leader()) {
      send_batch();
      Message done;
      done.header.kind = MessageKind::kResult;
      done.header.slot = layout.slot;
      done.header.run = run;
      done.header.outcome = int32_t(result.outcome);
      done.header.steps_done = result.train.steps_done;
      done.header.final_eval_loss = result.train.final_eval_loss;
      done.header.final_train_loss = result.train.final_train_loss;
      done.header.wall_seconds = result.train.wall_time;
      done.header.tokens_per_second = result.train.tokens_per_second;
      done.reason = result.reason;
      send_to_coordinator(done);
    }
  }
}

// ---- rank 0 ----------------------------------------------------------------
int coordinate(const SweepSetup& setup, SweepStore& store, const SlotLayout& layout, bool json) {
  const Grid& grid = setup.grid;
  const ResumeState resume = resume_store(store, setup);
  store.start_writing();
  std::vector<double> flops;
  std::vector<RunState> states;
  std::vector<int> ranks_needed;
  for (const RunSpec& run : grid.runs) {
    flops.push_back(run.flops);
    states.push_back(store.progress(run.index).state);
    ranks_needed.push_back(int(setup.job.resources.ranks_needed(run.params.total)));
  }
  Scheduler scheduler(flops, states, ranks_needed);
  const size_t slots = layout.leaders.size();
  std::map<int, int> by_size;
  for (int s : layout.slot_sizes) ++by_size[s];
  std::string shape;
  for (const auto& [ranks, count] : by_size) {
    shape += (shape.empty() ? "" : ", ") + std::to_string(count) + " of " + std::to_string(ranks) +
             (ranks == 1 ? " rank" : " ranks");
  }
  log_info((store.created() ? "writing " : "resuming ") + setup.output + ": " +
           std::to_string(resume.runs_done) + " of " + std::to_string(grid.runs.size()) +
           " runs finished; " + std::to_string(slots) + " slots (" + shape + ")" +
           (layout.idle_ranks ? ", " + std::to_string(layout.idle_ranks) + " ranks idle (no slot)"
                              : ""));

  Progress progress(grid.runs.size(), grid.total_flops(), resume.flops_done);
  std::vector<int> slot_run(slots, -1);
  std::vector<double> slot_flops(slots, 0.0);  // FLOPs of the run in progress
  size_t active = slots, runs_done = resume.runs_done;
  double flops_done = resume.flops_done;
  bool stopping = false;
  int failures = 0;
  auto last_flush = Clock::now();
  std::string last_detail = "waiting for the first records";
  double messages = 0, handling_seconds = 0;
  const auto sweep_start = Clock::now();
  std::vector<Clock::time_point> busy_since(slots);
  std::vector<double> busy_seconds(slots, 0.0);  // time each slot spent on runs

  while (active > 0) {
    if (stop_requested() && !stopping) {
      stopping = true;
      log_info("stop requested (" + stop_reason() + "): slots checkpoint and stop");
      for (size_t s = 0; s < slots; ++s) {
        if (slot_run[s] >= 0) {
          const int zero = 0;
          SWEEP_MPI(MPI_Send(&zero, 1, MPI_INT, layout.leaders[s], kTagStop, MPI_COMM_WORLD));
        }
      }
    }
    int flag = 0;
    MPI_Status status;
    SWEEP_MPI(MPI_Iprobe(MPI_ANY_SOURCE, kTagToCoordinator, MPI_COMM_WORLD, &flag, &status));
    if (!flag) {
      if (std::chrono::duration<double>(Clock::now() - last_flush).count() > 1.0) {
        store.flush();
        last_flush = Clock::now();
      }
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
    const size_t slot = size_t(m.header.slot);
    switch (m.header.kind) {
      case MessageKind::kRequest: {
        int run = -1;
        if (!stopping) {
          if (auto next = scheduler.next_for(layout.slot_sizes[slot])) run = *next;
        }
        if (run >= 0) {
          scheduler.transition(run, RunEvent::kStart);
          RunProgress p;
          p.state = RunState::kRunning;
          store.set_progress(run, p);
          slot_run[slot] = run;
          slot_flops[slot] = 0;
          busy_since[slot] = Clock::now();
        } else {
          --active;  // no work for it now, and none will appear: the slot exits
        }
        SWEEP_MPI(MPI_Send(&run, 1, MPI_INT, status.MPI_SOURCE, kTagAssign, MPI_COMM_WORLD));
        break;
      }
      case MessageKind::kRecords: {
        for (const TrainRecord& r : m.train) store.append_train(m.header.run, r);
        for (const EvalRecord& r : m.eval) store.append_eval(m.header.run, r);
        if (!m.train.empty()) {
          slot_flops[slot] = m.train.back().flops;
          char detail[96];
          std::snprintf(detail, sizeof(detail), "%s loss %.4f",
                        grid.runs[size_t(m.header.run)].run_id.c_str(), m.train.back().loss);
          last_detail = detail;
        }
        if (!m.eval.empty()) store.flush();
        break;
      }
      case MessageKind::kResult: {
        const int run = m.header.run;
        WorkerResult result;
        result.outcome = Outcome(m.header.outcome);
        result.reason = m.reason;
        result.train.steps_done = m.header.steps_done;
        result.train.final_eval_loss = m.header.final_eval_loss;
        result.train.final_train_loss = m.header.final_train_loss;
        result.train.wall_time = m.header.wall_seconds;
        result.train.tokens_per_second = m.header.tokens_per_second;
        scheduler.transition(run, event_of(result.outcome));
        store.set_progress(run, progress_of(result));
        store.flush();
        slot_run[slot] = -1;
        slot_flops[slot] = 0;
        busy_seconds[slot] +=
            std::chrono::duration<double>(Clock::now() - busy_since[slot]).count();
        if (result.outcome != Outcome::kStopped) {
          flops_done += grid.runs[size_t(run)].flops;
          ++runs_done;
        }
        if (result.outcome == Outcome::kFailed) ++failures;
        if (result.outcome == Outcome::kFailed || result.outcome == Outcome::kDiverged) {
          log_warn(grid.runs[size_t(run)].run_id + " " + to_string(scheduler.state(run)) + ": " +
                   m.reason);
        }
        break;
      }
    }
    messages += 1;
    handling_seconds += std::chrono::duration<double>(Clock::now() - handling_start).count();
    double in_progress = 0;
    for (double f : slot_flops) in_progress += f;
    progress.update(runs_done, flops_done + in_progress, last_detail);
  }
  progress.finish();
  store.flush();
  if (messages > 0) {
    const double wall = std::chrono::duration<double>(Clock::now() - sweep_start).count();
    double busy = 0;
    for (double b : busy_seconds) busy += b;
    char text[200];
    std::snprintf(text, sizeof(text),
                  "coordinator: %.0f messages, %.1f us each on average (HDF5 writes included); "
                  "slots idle %.1f%% of %s",
                  messages, 1e6 * handling_seconds / messages,
                  100.0 * (1.0 - busy / (wall * double(slots))), format_duration(wall).c_str());
    log_info(text);
  }
  if (stopping) {
    log_info("stopped: runs checkpointed; rerun the same command to resume");
    return kExitOk;
  }
  print_results(grid, store, setup, json);
  return failures > 0 ? kExitFailure : kExitOk;
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
  std::string message;
  // Rank 0 first: it tokenizes the corpus into the cache the others then map.
  int code =
      rank == 0
          ? attempt(
                [&] {
                  setup.emplace(prepare_sweep(options.job_path, options.output, /*verbose=*/true));
                  store.emplace(SweepStore::open(setup->output, setup->info, setup->runs));
                },
                message)
          : 0;
  SWEEP_MPI(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD));
  if (code == 0 && rank != 0) {
    code = attempt([&] { setup.emplace(prepare_sweep(options.job_path, options.output, false)); },
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
        serve_slot(*setup, layout, device, threads);
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
