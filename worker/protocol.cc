#include "worker/protocol.h"

#include <cstring>
#include <stdexcept>

namespace sweep {

std::vector<char> pack(const Message& m) {
  MessageHeader h = m.header;
  h.n_train = int32_t(m.train.size());
  h.n_eval = int32_t(m.eval.size());
  h.reason_length = int32_t(m.reason.size());
  std::vector<char> bytes(sizeof(h) + m.train.size() * sizeof(TrainRecord) +
                          m.eval.size() * sizeof(EvalRecord) + m.reason.size());
  char* p = bytes.data();
  std::memcpy(p, &h, sizeof(h));
  p += sizeof(h);
  if (!m.train.empty()) std::memcpy(p, m.train.data(), m.train.size() * sizeof(TrainRecord));
  p += m.train.size() * sizeof(TrainRecord);
  if (!m.eval.empty()) std::memcpy(p, m.eval.data(), m.eval.size() * sizeof(EvalRecord));
  p += m.eval.size() * sizeof(EvalRecord);
  if (!m.reason.empty()) std::memcpy(p, m.reason.data(), m.reason.size());
  return bytes;
}

Message unpack(const std::vector<char>& bytes) {
  Message m;
  if (bytes.size() < sizeof(MessageHeader)) throw std::runtime_error("short message from a worker");
  std::memcpy(&m.header, bytes.data(), sizeof(MessageHeader));
  const MessageHeader& h = m.header;
  const size_t expected = sizeof(h) + size_t(h.n_train) * sizeof(TrainRecord) +
                          size_t(h.n_eval) * sizeof(EvalRecord) + size_t(h.reason_length);
  if (bytes.size() != expected) throw std::runtime_error("malformed message from a worker");
  const char* p = bytes.data() + sizeof(h);
  m.train.resize(size_t(h.n_train));
  if (h.n_train) std::memcpy(m.train.data(), p, m.train.size() * sizeof(TrainRecord));
  p += m.train.size() * sizeof(TrainRecord);
  m.eval.resize(size_t(h.n_eval));
  if (h.n_eval) std::memcpy(m.eval.data(), p, m.eval.size() * sizeof(EvalRecord));
  p += m.eval.size() * sizeof(EvalRecord);
  m.reason.assign(p, size_t(h.reason_length));
  return m;
}

Message result_message(int slot, int run, const RunResult& result) {
  Message m;
  m.header.kind = MessageKind::kResult;
  m.header.slot = slot;
  m.header.run = run;
  m.header.end = result;
  m.reason = result.reason;
  return m;
}

RunResult result_of(const Message& m) {
  RunResult r;
  static_cast<RunEnd&>(r) = m.header.end;
  r.reason = m.reason;
  return r;
}

}  // namespace sweep
