#include "model/data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/check.h"
#include "common/error.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

uint64_t fnv1a(uint64_t hash, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * 0x100000001b3ULL;
  return hash;
}

// splitmix64 finaliser: a counter-based generator, the same everywhere.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Appends the decompressed bytes of a text file (plain, .gz or .dz: zlib's
// gzread passes uncompressed files through).
void append_text(const std::string& path, std::FILE* out) {
  gzFile in = gzopen(path.c_str(), "rb");
  if (!in) throw UserError(path + ": cannot read corpus file: " + std::strerror(errno));
  gzbuffer(in, 1 << 20);
  std::vector<char> buffer(1 << 20);
  int n;
  while ((n = gzread(in, buffer.data(), unsigned(buffer.size()))) > 0) {
    SWEEP_CHECK(std::fwrite(buffer.data(), 1, size_t(n), out) == size_t(n), "writing token cache");
  }
  int err = 0;
  const char* message = gzerror(in, &err);
  const bool failed = n < 0 || (err != Z_OK && err != Z_STREAM_END);
  const std::string reason = failed ? message : "";
  gzclose(in);
  if (failed) throw UserError(path + ": corrupt compressed corpus: " + reason);
}

void append_raw(const std::string& path, std::FILE* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read token file: " + std::strerror(errno));
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), std::streamsize(buffer.size())) || in.gcount() > 0) {
    const size_t n = size_t(in.gcount());
    SWEEP_CHECK(std::fwrite(buffer.data(), 1, n, out) == n, "writing token cache");
  }
}

}  // namespace

std::string prepare_tokens(const CorpusSpec& spec) {
  if (spec.files.empty()) throw UserError("no corpus files to tokenize");
  if (!spec.bytes && spec.files.size() == 1) return spec.files[0];  // used as it is

  uint64_t key = 0xcbf29ce484222325ULL;
  key = fnv1a(key, spec.bytes ? "bytes" : "u16", spec.bytes ? 5 : 3);
  for (const std::string& file : spec.files) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      throw UserError(file + ": cannot read corpus file: " + std::strerror(errno));
    }
    const std::string absolute = fs::absolute(file).string();
    key = fnv1a(key, absolute.data(), absolute.size());
    key = fnv1a(key, &st.st_size, sizeof(st.st_size));
    key = fnv1a(key, &st.st_mtime, sizeof(st.st_mtime));
  }
  char name[64];
  std::snprintf(name, sizeof(name), "tokens-%016llx.%s", (unsigned long long)key,
                spec.bytes ? "u8" : "u16");
  const fs::path cache = fs::path(spec.cache_dir) / name;
  if (fs::exists(cache)) return cache.string();

  std::error_code ec;
  fs::create_directories(spec.cache_dir, ec);
  if (ec) throw UserError(spec.cache_dir + ": cannot create cache directory: " + ec.message());
  const std::string temporary = cache.string() + ".tmp." + std::to_string(::getpid());
  std::FILE* out = std::fopen(temporary.c_str(), "wb");
  if (!out) throw UserError(temporary + ": cannot write token cache: " + std::strerror(errno));
  try {
    for (const std::string& file : spec.files) {
      if (spec.bytes)
        append_text(file, out);
      else
        append_raw(file, out);
    }
  } catch (...) {
    std::fclose(out);
    std::remove(temporary.c_str());
    throw;
  }
  SWEEP_CHECK(std::fclose(out) == 0, "closing token cache " + temporary);
  if (fs::file_size(temporary) == 0) {
    std::remove(temporary.c_str());
    throw UserError("corpus is empty: " + spec.files[0]);
  }
  fs::rename(temporary, cache);
  return cache.string();
}

TokenData::TokenData(const std::string& path, int bytes_per_token, int64_t seq_len,
                     double validation_fraction)
    : bytes_per_token_(bytes_per_token), seq_len_(seq_len) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw UserError(path + ": cannot open token file: " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  mapped_bytes_ = size_t(st.st_size);
  if (mapped_bytes_ == 0) {
    ::close(fd);
    throw UserError(path + ": token file is empty");
  }
  void* p = ::mmap(nullptr, mapped_bytes_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  SWEEP_CHECK(p != MAP_FAILED, "mmap " + path + ": " + std::strerror(errno));
  data_ = static_cast<const uint8_t*>(p);
  n_tokens_ = int64_t(mapped_bytes_ / size_t(bytes_per_token));

  // Every k-th block is validation. Blocks shrink for small corpora so that
  // both splits exist; each must hold more than one sequence.
  const int64_t k = std::max<int64_t>(2, std::llround(1.0 / validation_fraction));
  const int64_t block =
      std::max<int64_t>(4 * (seq_len + 1), std::min<int64_t>(65536, n_tokens_ / (4 * k)));
  for (int64_t begin = 0, b = 0; begin < n_tokens_; begin += block, ++b) {
    const int64_t end = std::min(n_tokens_, begin + block);
    std::vector<Region>& split = (b % k == k - 1) ? validation_ : train_;
    if (!split.empty() && split.back().end == begin) {
      split.back().end = end;  // merge adjacent blocks of the same split
    } else {
      split.push_back({begin, end, 0});
    }
  }
  auto index = [&](std::vector<Region>& regions, std::vector<int64_t>& cumulative) {
    int64_t total = 0;
    for (Region& r : regions) {
      r.starts = std::max<int64_t>(0, r.end - r.begin - seq_len);
      total += r.starts;
      cumulative.push_back(total);
    }
    return total;
  };
  train_tokens_ = 0;
  for (const Region& r : train_) train_tokens_ += r.end - r.begin;
  if (index(train_, train_cumulative_) == 0 || index(validation_, validation_cumulative_) == 0) {
    throw UserError(path + ": corpus of " + std::to_string(n_tokens_) +
                    " tokens is too small for sequences of " + std::to_string(seq_len) +
                    " tokens with a validation split");
  }
}

TokenData::~TokenData() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), mapped_bytes_);
}

int64_t TokenData::start_of(const std::vector<Region>& regions,
                            const std::vector<int64_t>& cumulative, int64_t k) const {
  const size_t r =
      size_t(std::upper_bound(cumulative.begin(), cumulative.end(), k) - cumulative.begin());
  const int64_t before = r == 0 ? 0 : cumulative[r - 1];
  return regions[r].begin + (k - before);
}

void TokenData::fill(const std::vector<int64_t>& starts, torch::Tensor& x, torch::Tensor& y) const {
  const int64_t n = int64_t(starts.size());
  x = torch::empty({n, seq_len_}, torch::kInt64);
  y = torch::empty({n, seq_len_}, torch::kInt64);
  int64_t* xs = x.data_ptr<int64_t>();
  int64_t* ys = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t s = starts[size_t(i)];
    for (int64_t j = 0; j <= seq_len_; ++j) {
      const int64_t pos = s + j;
      const int64_t token = bytes_per_token_ == 1
                                ? int64_t(data_[pos])
                                : int64_t(reinterpret_cast<const uint16_t*>(data_)[pos]);
      if (j < seq_len_) xs[i * seq_len_ + j] = token;
      if (j > 0) ys[i * seq_len_ + j - 1] = token;
    }
  }
}

void TokenData::train_batch(uint64_t seed, int64_t step, int64_t first, int64_t count,
                            torch::Tensor& x, torch::Tensor& y) const {
  const uint64_t total = uint64_t(train_cumulative_.back());
  std::vector<int64_t> starts;
  starts.reserve(size_t(count));
  for (int64_t i = first; i < first + count; ++i) {
    const uint64_t h = mix(seed ^ mix(uint64_t(step) * 0x9e3779b97f4a7c15ULL ^ mix(uint64_t(i))));
    starts.push_back(start_of(train_, train_cumulative_, int64_t(h % total)));
  }
  fill(starts, x, y);
}

void TokenData::validation_batch(int64_t count, int64_t first, int64_t n, torch::Tensor& x,
                                 torch::Tensor& y) const {
  const int64_t total = validation_cumulative_.back();
  std::vector<int64_t> starts;
  for (int64_t i = first; i < first + n; ++i) {
    const int64_t k = int64_t((__int128)i * total / count);
    starts.push_back(start_of(validation_, validation_cumulative_, k));
  }
  fill(starts, x, y);
}

}  // namespace sweep
