#pragma once
// Messages between the coordinator (rank 0) and the ranks that train.
//
// Coordinator -> every rank of a group, on kTagAssign: an Assignment (run
// index, attempt number, and the group that trains it; run -1: no more work,
// the rank exits). Rank 0 assigns a run only to a group whose ranks are all
// idle, so each rank receives its assignments in the order it trains them.
// Coordinator -> the group's leader, on kTagStop: one int, "checkpoint the run
// in progress and stop".
// Leader -> coordinator, all on kTagToCoordinator so that MPI's in-order
// delivery per sender keeps records before the result that ends a run:
//   kRecords   a batch of train and eval records of one run
//   kResult    a run ended (done, diverged, failed, or stopped at a checkpoint)
//
// A message is a Header followed by n_train TrainRecords, n_eval EvalRecords and
// reason_length bytes of text, sent as MPI_BYTE (all ranks run the same binary).

#include <cstdint>
#include <string>
#include <vector>

#include "common/records.h"

namespace sweep {

inline constexpr int kTagToCoordinator = 11;
inline constexpr int kTagAssign = 12;
inline constexpr int kTagStop = 13;

struct Assignment {
  int32_t run = -1;     // -1: no more work
  int32_t attempt = 0;  // 1, 2, ... over the run's life in the file
  int32_t group = -1;   // the group that trains it (an index into the layout's groups)
  // The [tune] candidate a tuned variant's grid run trains with (chosen from
  // its tune runs as it starts); -1: the run's own recipe.
  int32_t recipe = -1;
};

enum class MessageKind : int32_t { kRecords = 2, kResult = 3 };

struct MessageHeader {
  MessageKind kind = MessageKind::kRecords;
  int32_t slot = 0;  // the group
  int32_t run = -1;
  int32_t n_train = 0, n_eval = 0, reason_length = 0;
  RunEnd end;  // kResult: how the run ended (its reason follows as text)
};

struct Message {
  MessageHeader header;
  std::vector<TrainRecord> train;
  std::vector<EvalRecord> eval;
  std::string reason;
};

std::vector<char> pack(const Message& message);
Message unpack(const std::vector<char>& bytes);

// A kResult message for `result`, and the result it carries.
Message result_message(int slot, int run, const RunResult& result);
RunResult result_of(const Message& message);

}  // namespace sweep
