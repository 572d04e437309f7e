#include "model/tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "common/check.h"
#include "common/error.h"
#include "common/format.h"
#include "common/log.h"

namespace sweep {
namespace {

constexpr size_t kMaxPiece = 16384;         // bytes: longer lines are cut
constexpr int64_t kSampleWindow = 1 << 16;  // bytes of text per sampling window
constexpr size_t kEncodeBlock = 4 << 20;    // bytes of text encoded per parallel block

// Splits streamed text into the pieces training and encoding both see: lines
// with their "\n", and lines over kMaxPiece bytes cut at a UTF-8 character
// boundary. `emit(piece, offset)` gets each piece and its offset in the stream.
class PieceSplitter {
 public:
  explicit PieceSplitter(std::function<void(std::string_view, int64_t)> emit)
      : emit_(std::move(emit)) {}

  void add(const char* data, size_t n) {
    pending_.append(data, n);
    size_t start = 0;
    for (size_t nl = pending_.find('\n'); nl != std::string::npos;
         nl = pending_.find('\n', start)) {
      start = emit_cut(start, nl + 1);
    }
    while (pending_.size() - start > kMaxPiece) start = emit_one(start, pending_.size());
    pending_.erase(0, start);
    offset_ += int64_t(start);
  }
  void finish() {
    const size_t start = emit_cut(0, pending_.size());
    offset_ += int64_t(start);
    pending_.clear();
  }

 private:
  // Emits [start, end) as pieces of at most kMaxPiece bytes; returns end.
  size_t emit_cut(size_t start, size_t end) {
    while (start < end) start = emit_one(start, end);
    return end;
  }
  // Emits one piece from `start` (at most kMaxPiece bytes, not ending inside
  // a character); returns where the next begins.
  size_t emit_one(size_t start, size_t end) {
    size_t cut = end;
    if (end - start > kMaxPiece) {
      cut = start + kMaxPiece;
      while (cut > start && (static_cast<unsigned char>(pending_[cut]) & 0xC0) == 0x80) --cut;
      if (cut == start) cut = start + kMaxPiece;  // not UTF-8: cut anywhere
    }
    emit_(std::string_view(pending_).substr(start, cut - start), offset_ + int64_t(start));
    return cut;
  }

  std::function<void(std::string_view, int64_t)> emit_;
  std::string pending_;
  int64_t offset_ = 0;  // stream offset of pending_[0]
};

// Sentences for SentencePiece's trainer, held in memory.
class SampleIterator : public sentencepiece::SentenceIterator {
 public:
  explicit SampleIterator(const std::vector<std::string>& sentences) : sentences_(sentences) {}
  bool done() const override { return i_ >= sentences_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return sentences_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& sentences_;
  size_t i_ = 0;
};

std::string files_list(const std::vector<std::string>& files) {
  std::string list;
  for (const std::string& f : files) list += (list.empty() ? "" : ", ") + f;
  return list;
}

int encode_threads() {
  return int(std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, 8));
}

}  // namespace

void read_text(const std::string& path, const std::function<void(const char*, size_t)>& consume) {
  gzFile in = gzopen(path.c_str(), "rb");
  if (!in) throw UserError(path + ": cannot read corpus file: " + std::strerror(errno));
  gzbuffer(in, 1 << 20);
  std::vector<char> buffer(1 << 20);
  int n;
  try {
    while ((n = gzread(in, buffer.data(), unsigned(buffer.size()))) > 0) {
      consume(buffer.data(), size_t(n));
    }
  } catch (...) {
    gzclose(in);
    throw;
  }
  int err = 0;
  const char* message = gzerror(in, &err);
  const bool failed = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  const std::string reason = failed ? message : "";
  gzclose(in);
  if (failed) throw UserError(path + ": corrupt compressed corpus: " + reason);
}

std::string sentencepiece_training_signature(const SentencePieceTraining& options) {
  // Bump "v1" when the trainer's settings below change.
  return "sentencepiece-bpe-v1 vocab=" + std::to_string(options.vocab_size) +
         " sample=" + std::to_string(options.sample_bytes) + " piece=" + std::to_string(kMaxPiece);
}

std::string train_sentencepiece(const std::vector<std::string>& files,
                                const SentencePieceTraining& options) {
  const auto started = std::chrono::steady_clock::now();
  int64_t total = 0;
  for (const std::string& file : files) read_text(file, [&](const char*, size_t n) { total += n; });
  if (total == 0) throw UserError("corpus is empty: " + files_list(files));

  // Every k-th window of the whole text: an even sample of at most sample_bytes.
  const int64_t windows = (total + kSampleWindow - 1) / kSampleWindow;
  const int64_t kept_windows = std::max<int64_t>(1, options.sample_bytes / kSampleWindow);
  const int64_t stride = std::max<int64_t>(1, (windows + kept_windows - 1) / kept_windows);
  std::vector<std::string> sentences;
  int64_t sample = 0, base = 0;
  for (const std::string& file : files) {
    PieceSplitter splitter([&](std::string_view piece, int64_t offset) {
      if (((base + offset) / kSampleWindow) % stride != 0) return;
      sentences.emplace_back(piece);
      sample += int64_t(piece.size());
    });
    int64_t length = 0;
    read_text(file, [&](const char* p, size_t n) {
      splitter.add(p, n);
      length += int64_t(n);
    });
    splitter.finish();
    base += length;
  }

  const std::unordered_map<std::string, std::string> settings = {
      {"model_type", "bpe"},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"normalization_rule_name", "identity"},  // lossless: the text as it is
      {"remove_extra_whitespaces", "false"},
      {"add_dummy_prefix", "false"},
      {"byte_fallback", "true"},  // unknown characters become their bytes, never <unk>
      {"unk_id", "0"},
      {"bos_id", "-1"},  // no sentence markers: a corpus is one stream of tokens
      {"eos_id", "-1"},
      {"pad_id", "-1"},
      {"input_sentence_size", "0"},  // the sample above is the whole input
      {"max_sentence_length", std::to_string(kMaxPiece)},
      {"num_threads", "1"},  // the result depends on the thread count
      {"minloglevel", "2"},  // SentencePiece's own progress lines off
  };
  SampleIterator iterator(sentences);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(settings, &iterator, &model);
  if (!status.ok()) {
    throw UserError("data.vocab_size = " + std::to_string(options.vocab_size) +
                    ": SentencePiece cannot train a BPE model of this size on " +
                    format_count(double(sample)) + " bytes of " + files_list(files) + ": " +
                    status.message());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char text[160];
  std::snprintf(text, sizeof(text),
                "SentencePiece: trained a BPE vocabulary of %lld on %s bytes "
                "of text in %.1f s",
                (long long)options.vocab_size, format_count(double(sample)).c_str(), seconds);
  log_info(text);
  return model;
}

int64_t sentencepiece_vocab_size_of(const std::string& serialized_model) {
  sentencepiece::SentencePieceProcessor processor;
  const auto status = processor.LoadFromSerializedProto(serialized_model);
  if (!status.ok()) throw UserError(std::string("not a SentencePiece model: ") + status.message());
  const int64_t vocab = processor.GetPieceSize();
  if (vocab > 65536) {
    throw UserError("a SentencePiece model of " + std::to_string(vocab) +
                    " pieces: tokens are uint16, at most 65536");
  }
  return vocab;
}

int64_t sentencepiece_vocab_size(const std::string& model_path) {
  sentencepiece::SentencePieceProcessor processor;
  const auto status = processor.Load(model_path);
  if (!status.ok()) {
    throw UserError(model_path + ": cannot load SentencePiece model: " + status.message());
  }
  const int64_t vocab = processor.GetPieceSize();
  if (vocab > 65536) {
    throw UserError(model_path + ": " + std::to_string(vocab) +
                    " pieces: tokens are uint16, at most 65536");
  }
  return vocab;
}

EncodedText encode_with_sentencepiece(const std::string& serialized_model,
                                      const std::vector<std::string>& files, std::FILE* out) {
  sentencepiece::SentencePieceProcessor processor;
  const auto status = processor.LoadFromSerializedProto(serialized_model);
  if (!status.ok()) throw UserError(std::string("not a SentencePiece model: ") + status.message());

  EncodedText result;
  const int threads = encode_threads();
  const auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  std::string block;         // whole pieces, back to back
  std::vector<size_t> ends;  // where each piece of `block` ends
  std::vector<std::vector<uint16_t>> encoded(static_cast<size_t>(threads));

  // Encodes `block`: each thread a contiguous run of pieces, written in order.
  auto flush = [&](const std::string& file) {
    if (ends.empty()) return;
    std::vector<std::thread> workers;
    std::vector<std::string> errors(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const size_t first = ends.size() * size_t(t) / size_t(threads);
        const size_t last = ends.size() * size_t(t + 1) / size_t(threads);
        std::vector<uint16_t>& tokens = encoded[size_t(t)];
        tokens.clear();
        std::vector<int> ids;
        for (size_t i = first; i < last; ++i) {
          const size_t begin = i == 0 ? 0 : ends[i - 1];
          const auto s =
              processor.Encode(std::string_view(block).substr(begin, ends[i] - begin), &ids);
          if (!s.ok()) {
            errors[size_t(t)] = s.message();
            return;
          }
          for (int id : ids) tokens.push_back(uint16_t(id));
        }
      });
    }
    for (std::thread& w : workers) w.join();
    for (int t = 0; t < threads; ++t) {
      if (!errors[size_t(t)].empty()) {
        throw UserError(file + ": SentencePiece cannot encode the text: " + errors[size_t(t)]);
      }
      const std::vector<uint16_t>& tokens = encoded[size_t(t)];
      SWEEP_CHECK(std::fwrite(tokens.data(), 2, tokens.size(), out) == tokens.size(),
                  "writing token cache");
      result.tokens += int64_t(tokens.size());
    }
    result.text_bytes += int64_t(block.size());
    block.clear();
    ends.clear();

    const auto now = std::chrono::steady_clock::now();
    if (now - last_report > std::chrono::seconds(10)) {
      last_report = now;
      char text[200];
      std::snprintf(text, sizeof(text), "tokenizing %s: %s bytes of text, %s tokens, %.0f s",
                    file.c_str(), format_count(double(result.text_bytes)).c_str(),
                    format_count(double(result.tokens)).c_str(),
                    std::chrono::duration<double>(now - started).count());
      log_info(text);
    }
  };

  for (const std::string& file : files) {
    PieceSplitter splitter([&](std::string_view piece, int64_t) {
      block.append(piece);
      ends.push_back(block.size());
    });
    read_text(file, [&](const char* p, size_t n) {
      splitter.add(p, n);
      if (block.size() >= kEncodeBlock) flush(file);
    });
    splitter.finish();
    flush(file);
  }
  return result;
}

std::string decode_with_sentencepiece(const std::string& serialized_model,
                                      const std::vector<uint16_t>& tokens) {
  sentencepiece::SentencePieceProcessor processor;
  const auto status = processor.LoadFromSerializedProto(serialized_model);
  if (!status.ok()) throw UserError(std::string("not a SentencePiece model: ") + status.message());
  const std::vector<int> ids(tokens.begin(), tokens.end());
  std::string text;
  const auto decoded = processor.Decode(ids, &text);
  if (!decoded.ok()) throw UserError(std::string("cannot decode tokens: ") + decoded.message());
  return text;
}

}  // namespace sweep
