#include "worker/slot.h"

#include <chrono>
#include <climits>
#include <thread>

#include "common/check.h"
#include "common/signals.h"
#include "worker/collectives.h"
#include "worker/protocol.h"
#include "worker/worker.h"

namespace sweep {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRecordBatch = 64;    // train records per message, at most
constexpr double kBatchSeconds = 1.0;  // or this long after the first unsent one

void send_to_coordinator(const Message& message) {
  const std::vector<char> bytes = pack(message);
  SWEEP_MPI(
      MPI_Send(bytes.data(), int(bytes.size()), MPI_BYTE, 0, kTagToCoordinator, MPI_COMM_WORLD));
}

// The failing rank's reason, on every rank of the slot (after a failure that
// every rank returned from together).
std::string failing_rank_reason(const SlotLayout& layout, const RunResult& result) {
  const bool mine = result.outcome == RunOutcome::kFailed && result.reason != kPeerFailed;
  int candidate = mine ? layout.slot_rank : INT_MAX, first = INT_MAX;
  SWEEP_MPI(MPI_Allreduce(&candidate, &first, 1, MPI_INT, MPI_MIN, layout.slot_comm));
  if (first == INT_MAX) return result.reason;
  int length = layout.slot_rank == first ? int(result.reason.size()) : 0;
  SWEEP_MPI(MPI_Bcast(&length, 1, MPI_INT, first, layout.slot_comm));
  std::string reason = layout.slot_rank == first ? result.reason : std::string(size_t(length), ' ');
  SWEEP_MPI(MPI_Bcast(reason.data(), length, MPI_CHAR, first, layout.slot_comm));
  return reason;
}

// Waits for rank 0's next assignment (polling: an idle rank leaves the CPU to
// those that train, as the coordinator does).
Assignment receive_assignment() {
  while (true) {
    int flag = 0;
    SWEEP_MPI(MPI_Iprobe(0, kTagAssign, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE));
    if (flag) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Assignment next;
  SWEEP_MPI(
      MPI_Recv(&next, sizeof(next), MPI_BYTE, 0, kTagAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
  return next;
}

}  // namespace

void serve_groups(const SlotWork& work, const GroupLayout& groups, const std::string& device,
                  int threads) {
  bool told_to_stop = false;
  while (true) {
    const Assignment next = receive_assignment();
    if (next.run < 0) return;
    const SlotLayout* slot = groups.slot(next.group);
    SWEEP_CHECK(slot != nullptr, "rank " + std::to_string(groups.world_rank) +
                                     " was assigned a run on group " +
                                     std::to_string(next.group) + ", which it is not in");
    const SlotLayout& layout = *slot;
    const Collectives collectives = slot_collectives(layout);
    // Local to this rank (the training loop reduces it over the group every step).
    auto stop = [&] {
      if (layout.leader() && !told_to_stop) {
        int flag = 0;
        SWEEP_MPI(MPI_Iprobe(0, kTagStop, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE));
        if (flag) {
          int ignored = 0;
          SWEEP_MPI(
              MPI_Recv(&ignored, 1, MPI_INT, 0, kTagStop, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
          told_to_stop = true;
        }
      }
      return told_to_stop || stop_requested();
    };
    const RunSpec& spec = work.grid.runs[size_t(next.run)];

    Message batch;
    batch.header.kind = MessageKind::kRecords;
    batch.header.slot = layout.slot;
    batch.header.run = next.run;
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
    TrainConfig config = make_train_config(work.job, spec, device, threads, layout.slot_size, next.recipe);
    config.rank = layout.slot_rank;
    config.world = layout.slot_size;
    config.fault = fault_for(work.fault, spec.run_id, layout.slot_rank, next.attempt);
    RunResult result = run_one(config, work.data, sink, checkpoint_path(work.output, spec),
                               work.job.sweep.checkpoint_interval, stop, collectives);
    if (layout.slot_size > 1 && result.outcome == RunOutcome::kFailed)
      result.reason = failing_rank_reason(layout, result);
    if (layout.leader()) {
      send_batch();
      send_to_coordinator(result_message(layout.slot, next.run, result));
    }
  }
}

}  // namespace sweep
