#pragma once
// Token data: a corpus tokenized once into a cached token file that every
// rank memory-maps, split into training and validation regions, with batches
// that are a pure function of (run seed, step, position in the global batch).
//
//  * Text (plain, .gz, .dz — dictzip is gzip-compatible) under the byte
//    tokenizer becomes a uint8 file, one token per byte (vocab 256).
//  * nanoGPT-style uint16 .bin token files are used as they are (one file is
//    mapped directly; several are concatenated into the cache).
//  * The cache name hashes the inputs' paths, sizes and modification times, so a
//    changed corpus is tokenized again and an unchanged one never is.
//  * Validation: every k-th block of 65,536 tokens (k = 1 / validation_fraction),
//    so both splits sample the whole corpus (a dictionary's tail is all 'Z').
//  * Batches: random sequence starts, like nanoGPT's get_batch, but drawn from a
//    counter-based hash of (seed, step, index) instead of a stateful RNG, so a
//    resumed run and a run split over k ranks see exactly the same batches.

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sweep {

struct CorpusSpec {
  std::vector<std::string> files;  // resolved paths
  bool bytes = true;               // byte tokenizer (else uint16 token files)
  int64_t vocab_size = 256;
  double validation_fraction = 0.01;
  std::string cache_dir;  // where tokenized files go
};

// Returns the path of the token file for `spec`, tokenizing into the cache when
// needed (atomically: a temporary file renamed into place). Throws UserError
// for unreadable or empty input.
std::string prepare_tokens(const CorpusSpec& spec);

class TokenData {
 public:
  // Maps `path` (uint8 when bytes_per_token == 1, else uint16).
  TokenData(const std::string& path, int bytes_per_token, int64_t seq_len,
            double validation_fraction);
  ~TokenData();
  TokenData(const TokenData&) = delete;
  TokenData& operator=(const TokenData&) = delete;

  int64_t size() const { return n_tokens_; }
  int64_t train_tokens() const { return train_tokens_; }
  int64_t validation_tokens() const { return n_tokens_ - train_tokens_; }
  int64_t seq_len() const { return seq_len_; }
  int bytes_per_token() const { return bytes_per_token_; }

  // Sequences [first, first + count) of the global batch of `step`: inputs and
  // next-token targets, each (count, seq_len) int64 on the CPU.
  void train_batch(uint64_t seed, int64_t step, int64_t first, int64_t count, torch::Tensor& x,
                   torch::Tensor& y) const;
  // The fixed validation set: `count` sequences spread evenly over the
  // validation region, sequences [first, first + n).
  void validation_batch(int64_t count, int64_t first, int64_t n, torch::Tensor& x,
                        torch::Tensor& y) const;

 private:
  struct Region {
    int64_t begin, end;  // token range
    int64_t starts;      // sequence starts in it: end - begin - seq_len (>= 0)
  };
  int64_t start_of(const std::vector<Region>& regions, const std::vector<int64_t>& cumulative,
                   int64_t k) const;
  void fill(const std::vector<int64_t>& starts, torch::Tensor& x, torch::Tensor& y) const;

  const uint8_t* data_ = nullptr;
  size_t mapped_bytes_ = 0;
  int bytes_per_token_ = 1;
  int64_t n_tokens_ = 0, seq_len_ = 0, train_tokens_ = 0;
  std::vector<Region> train_, validation_;
  std::vector<int64_t> train_cumulative_, validation_cumulative_;  // prefix sums of starts
};

}  // namespace sweep
