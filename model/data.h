#pragma once
// Token data: a corpus as token files that every rank memory-maps, split into
// training and validation regions, with batches that are a pure function of
// (run seed, step, position in the global batch).
//
//  * Text (plain, .gz, .dz — dictzip is gzip-compatible) is tokenized once
//    into a cached token file: under the byte tokenizer a uint8 file, one
//    token per byte (vocab 256); under SentencePiece BPE (model/tokenizer.h) a
//    uint16 file, with the model trained on a sample of the text (or given)
//    and the measured bytes of text per token beside it.
//  * Token shards (nanoGPT's headerless uint16 .bin, llm.c's with its header:
//    model/token_files.h) are mapped where they are, never copied.
//  * Cache names hash the inputs' paths, sizes and modification times (and
//    the tokenizer and its settings), so a changed corpus is tokenized again
//    and an unchanged one never is.
//  * Validation: every k-th block of 65,536 tokens (k = 1 / validation_fraction),
//    so both splits sample the whole corpus (a dictionary's tail is all 'Z');
//    or, for shards, the files whose names say "val" (validation_shards).
//  * Batches: random sequence starts, like nanoGPT's get_batch, but drawn from a
//    counter-based hash of (seed, step, index) instead of a stateful RNG, so a
//    resumed run and a run split over k ranks see exactly the same batches. A
//    sequence never crosses a file boundary (nor a block boundary of the split).

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/token_files.h"

namespace sweep {

enum class TokenizerKind {
  kBytes,          // text, one token per byte (vocab 256)
  kTokenFiles,     // uint16 token shards, nanoGPT or llm.c, read as they are
  kSentencePiece,  // text, BPE through SentencePiece (trained or given model)
};

struct CorpusSpec {
  std::vector<std::string> files;  // resolved paths
  TokenizerKind tokenizer = TokenizerKind::kBytes;
  // Token files: ids must be below it. SentencePiece: the size of the trained
  // model, or (given model) the size it must have.
  int64_t vocab_size = 256;
  std::string tokenizer_model;                  // SentencePiece model to load; "" = train one
  int64_t tokenizer_sample_bytes = 10'000'000;  // text a trained model learns from (at most)
  bool validation_shards = false;               // token files: validation = the files named "val"
  double validation_fraction = 0.01;
  double bytes_per_token = NAN;  // token files: bytes of text per token, when known
  std::string cache_dir;         // where tokenized files and trained models go
};

// What prepare_corpus() made of a CorpusSpec: the files to map and what their
// tokens are.
struct PreparedCorpus {
  std::vector<TokenFile> files;
  bool validation_shards = false;  // validation = the files marked validation
  int64_t vocab_size = 256;
  // Bytes of text per token (bits per byte = loss / ln 2 / bytes_per_token):
  // 1 for bytes, measured for SentencePiece, given or NaN for token files.
  double bytes_per_token = NAN;
  std::string tokenizer_model;  // SentencePiece: the model used (trained into the cache or given)
  std::string description;      // for the log: "17.3M tokens in 1 file (...)"
};

// Tokenizes text into the cache when needed (atomically: temporary files
// renamed into place; a trained SentencePiece model is cached too) and
// inspects token shards. Throws UserError for unreadable, empty or malformed
// input, naming the file.
PreparedCorpus prepare_corpus(const CorpusSpec& spec);

// The path of the one token file prepare_corpus() gives for `spec` (text
// corpora and a single token file).
std::string prepare_tokens(const CorpusSpec& spec);

class TokenData {
 public:
  // Maps every file of `corpus`.
  TokenData(const PreparedCorpus& corpus, int64_t seq_len, double validation_fraction);
  // Maps one headerless token file (uint8 when bytes_per_token == 1, else
  // uint16), split by validation_fraction.
  TokenData(const std::string& path, int bytes_per_token, int64_t seq_len,
            double validation_fraction);
  ~TokenData();
  TokenData(const TokenData&) = delete;
  TokenData& operator=(const TokenData&) = delete;

  int64_t size() const { return n_tokens_; }
  int64_t train_tokens() const { return train_tokens_; }
  int64_t validation_tokens() const { return n_tokens_ - train_tokens_; }
  int64_t seq_len() const { return seq_len_; }
  int64_t file_count() const { return int64_t(files_.size()); }
  // Width of a stored token (1 or 2 bytes); not the corpus's bytes per token.
  int bytes_per_token() const { return files_.empty() ? 1 : files_[0].width; }

  // Sequences [first, first + count) of the global batch of `step`: inputs and
  // next-token targets, each (count, seq_len) int64 on the CPU. Throws
  // UserError if a token is not below the corpus's vocab_size.
  void train_batch(uint64_t seed, int64_t step, int64_t first, int64_t count, torch::Tensor& x,
                   torch::Tensor& y) const;
  // The fixed validation set: `count` sequences spread evenly over the
  // validation region, sequences [first, first + n).
  void validation_batch(int64_t count, int64_t first, int64_t n, torch::Tensor& x,
                        torch::Tensor& y) const;

 private:
  struct MappedFile {
    std::string path;
    const uint8_t* tokens = nullptr;  // first token (past any header)
    void* map = nullptr;
    size_t mapped_bytes = 0;
    int width = 1;  // bytes per stored token
    int64_t n = 0;  // tokens
  };
  struct Region {
    size_t file;         // index into files_
    int64_t begin, end;  // token range within the file
    int64_t starts;      // sequence starts in it: end - begin - seq_len (>= 0)
  };
  struct Start {
    size_t file;
    int64_t offset;
  };
  void map_files(const std::vector<TokenFile>& files);
  void unmap();
  void split(bool by_files, double validation_fraction);
  Start start_of(const std::vector<Region>& regions, const std::vector<int64_t>& cumulative,
                 int64_t k) const;
  void fill(const std::vector<Start>& starts, torch::Tensor& x, torch::Tensor& y) const;

  std::vector<MappedFile> files_;
  std::vector<bool> file_is_validation_;
  int64_t vocab_size_ = 0;  // 0: ids unchecked
  int64_t n_tokens_ = 0, seq_len_ = 0, train_tokens_ = 0;
  std::vector<Region> train_, validation_;
  std::vector<int64_t> train_cumulative_, validation_cumulative_;  // prefix sums of starts
};

}  // namespace sweep
