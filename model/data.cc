#include "model/data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/check.h"
#include "common/error.h"
#include "common/format.h"
#include "model/tokenizer.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ULL;

uint64_t fnv1a(uint64_t hash, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * 0x100000001b3ULL;
  return hash;
}
uint64_t fnv1a(uint64_t hash, const std::string& text) {
  return fnv1a(hash, text.data(), text.size());
}

// Hashes the files' absolute paths, sizes and modification times into `key`.
uint64_t hash_files(uint64_t key, const std::vector<std::string>& files) {
  for (const std::string& file : files) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      throw UserError(file + ": cannot read corpus file: " + std::strerror(errno));
    }
    key = fnv1a(key, fs::absolute(file).string());
    key = fnv1a(key, &st.st_size, sizeof(st.st_size));
    key = fnv1a(key, &st.st_mtime, sizeof(st.st_mtime));
  }
  return key;
}

fs::path cache_path(const CorpusSpec& spec, const char* prefix, uint64_t key, const char* ext) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s-%016llx.%s", prefix, (unsigned long long)key, ext);
  return fs::path(spec.cache_dir) / name;
}

void make_cache_dir(const CorpusSpec& spec) {
  std::error_code ec;
  fs::create_directories(spec.cache_dir, ec);
  if (ec) throw UserError(spec.cache_dir + ": cannot create cache directory: " + ec.message());
}

std::string temporary_name(const fs::path& path) {
  return path.string() + ".tmp." + std::to_string(::getpid());
}

// Writes `path` through `write(FILE*)` into a temporary file renamed into
// place, so no reader ever sees half a file; removes it on any failure.
template <typename Write>
void write_atomically(const fs::path& path, Write&& write) {
  const std::string temporary = temporary_name(path);
  std::FILE* out = std::fopen(temporary.c_str(), "wb");
  if (!out) throw UserError(temporary + ": cannot write token cache: " + std::strerror(errno));
  try {
    write(out);
  } catch (...) {
    std::fclose(out);
    std::remove(temporary.c_str());
    throw;
  }
  SWEEP_CHECK(std::fclose(out) == 0, "closing token cache " + temporary);
  fs::rename(temporary, path);
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void append_text(const std::string& path, std::FILE* out) {
  read_text(path, [&](const char* p, size_t n) {
    SWEEP_CHECK(std::fwrite(p, 1, n, out) == n, "writing token cache");
  });
}

TokenFile cached_file(const fs::path& path, int token_bytes) {
  TokenFile file;
  file.path = path.string();
  file.token_bytes = token_bytes;
  file.tokens = int64_t(fs::file_size(path)) / token_bytes;
  return file;
}

// Text, one token per byte.
PreparedCorpus prepare_bytes(const CorpusSpec& spec) {
  const uint64_t key = hash_files(fnv1a(kFnvBasis, "bytes", 5), spec.files);
  const fs::path cache = cache_path(spec, "tokens", key, "u8");
  if (!fs::exists(cache)) {
    make_cache_dir(spec);
    write_atomically(cache, [&](std::FILE* out) {
      for (const std::string& file : spec.files) append_text(file, out);
      SWEEP_CHECK(std::fflush(out) == 0, "writing token cache");
      if (std::ftell(out) == 0) throw UserError("corpus is empty: " + spec.files[0]);
    });
  }
  PreparedCorpus corpus;
  corpus.files = {cached_file(cache, 1)};
  corpus.vocab_size = 256;
  corpus.bytes_per_token = 1.0;
  return corpus;
}

// Token shards, mapped where they are.
PreparedCorpus prepare_token_files(const CorpusSpec& spec) {
  PreparedCorpus corpus;
  corpus.vocab_size = spec.vocab_size;
  corpus.bytes_per_token = spec.bytes_per_token;
  corpus.validation_shards = spec.validation_shards;
  int validation = 0;
  for (const std::string& path : spec.files) {
    TokenFile file = inspect_token_file(path);
    if (!spec.validation_shards) file.validation = false;
    validation += file.validation ? 1 : 0;
    corpus.files.push_back(file);
  }
  if (spec.validation_shards && (validation == 0 || validation == int(spec.files.size()))) {
    throw UserError(std::string("data.validation = \"shards\": ") +
                    (validation == 0 ? "no file is named as validation (\"val\" in its name)"
                                     : "every file is named as validation; none is left to train "
                                       "on") +
                    " among " + std::to_string(spec.files.size()) + " token files from " +
                    spec.files[0]);
  }
  return corpus;
}

// Text through SentencePiece: the model (given, or trained into the cache),
// then the text encoded into a uint16 cache file with its byte count beside it.
PreparedCorpus prepare_sentencepiece(const CorpusSpec& spec) {
  const uint64_t files_key = hash_files(kFnvBasis, spec.files);
  make_cache_dir(spec);
  std::string model, model_path;
  if (!spec.tokenizer_model.empty()) {
    model_path = spec.tokenizer_model;
    model = read_whole(model_path);
    const int64_t vocab = sentencepiece_vocab_size_of(model);
    if (vocab != spec.vocab_size) {
      throw UserError(model_path + ": SentencePiece model of " + std::to_string(vocab) +
                      " pieces, but the job was planned with data.vocab_size = " +
                      std::to_string(spec.vocab_size) + " (did the model change?)");
    }
  } else {
    SentencePieceTraining training;
    training.vocab_size = spec.vocab_size;
    training.sample_bytes = spec.tokenizer_sample_bytes;
    const fs::path cached = cache_path(
        spec, "spm", fnv1a(files_key, sentencepiece_training_signature(training)), "model");
    model_path = cached.string();
    if (fs::exists(cached)) {
      model = read_whole(model_path);
    } else {
      model = train_sentencepiece(spec.files, training);
      write_atomically(cached, [&](std::FILE* out) {
        SWEEP_CHECK(std::fwrite(model.data(), 1, model.size(), out) == model.size(),
                    "writing " + model_path);
      });
    }
  }

  const uint64_t key = fnv1a(fnv1a(files_key, "sentencepiece", 13), model);
  const fs::path cache = cache_path(spec, "tokens", key, "u16");
  const fs::path counts = cache.string() + ".bytes";  // "<text bytes> <tokens>\n"
  int64_t text_bytes = 0, tokens = 0;
  if (fs::exists(cache) && fs::exists(counts)) {
    std::ifstream(counts) >> text_bytes >> tokens;
  }
  if (tokens <= 0 || !fs::exists(cache) || int64_t(fs::file_size(cache)) != 2 * tokens) {
    EncodedText encoded;
    write_atomically(cache, [&](std::FILE* out) {
      encoded = encode_with_sentencepiece(model, spec.files, out);
      if (encoded.tokens == 0) throw UserError("corpus is empty: " + spec.files[0]);
      // The counts first: a token file in place always has its counts beside it.
      write_atomically(counts, [&](std::FILE* c) {
        std::fprintf(c, "%lld %lld\n", (long long)encoded.text_bytes, (long long)encoded.tokens);
      });
    });
    text_bytes = encoded.text_bytes;
    tokens = encoded.tokens;
  }
  PreparedCorpus corpus;
  corpus.files = {cached_file(cache, 2)};
  corpus.vocab_size = spec.vocab_size;
  corpus.bytes_per_token = double(text_bytes) / double(tokens);
  corpus.tokenizer_model = model_path;
  return corpus;
}

// splitmix64 finaliser: a counter-based generator, the same everywhere.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

PreparedCorpus prepare_corpus(const CorpusSpec& spec) {
  if (spec.files.empty()) throw UserError("no corpus files to tokenize");
  PreparedCorpus corpus;
  switch (spec.tokenizer) {
    case TokenizerKind::kBytes:
      corpus = prepare_bytes(spec);
      break;
    case TokenizerKind::kTokenFiles:
      corpus = prepare_token_files(spec);
      break;
    case TokenizerKind::kSentencePiece:
      corpus = prepare_sentencepiece(spec);
      break;
  }
  int64_t tokens = 0;
  for (const TokenFile& f : corpus.files) tokens += f.tokens;
  std::string text = format_count(double(tokens)) + " tokens in " +
                     std::to_string(corpus.files.size()) +
                     (corpus.files.size() == 1 ? " file (" : " files (") + corpus.files[0].path +
                     (corpus.files.size() == 1 ? ")" : ", ...)");
  if (!corpus.tokenizer_model.empty()) {
    char bpt[64];
    std::snprintf(bpt, sizeof(bpt), "%.3f", corpus.bytes_per_token);
    text += ", SentencePiece " + corpus.tokenizer_model + ", " + bpt + " bytes of text per token";
  }
  corpus.description = text;
  return corpus;
}

std::string prepare_tokens(const CorpusSpec& spec) {
  const PreparedCorpus corpus = prepare_corpus(spec);
  SWEEP_CHECK(corpus.files.size() == 1, "prepare_tokens() of several token files");
  return corpus.files[0].path;
}

TokenData::TokenData(const PreparedCorpus& corpus, int64_t seq_len, double validation_fraction)
    : vocab_size_(corpus.vocab_size), seq_len_(seq_len) {
  try {
    map_files(corpus.files);
    split(corpus.validation_shards, validation_fraction);
  } catch (...) {
    unmap();
    throw;
  }
}

TokenData::TokenData(const std::string& path, int bytes_per_token, int64_t seq_len,
                     double validation_fraction)
    : seq_len_(seq_len) {
  TokenFile file;
  file.path = path;
  file.token_bytes = bytes_per_token;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw UserError(path + ": cannot open token file: " + std::strerror(errno));
  }
  file.tokens = int64_t(st.st_size) / bytes_per_token;
  try {
    map_files({file});
    split(/*by_files=*/false, validation_fraction);
  } catch (...) {
    unmap();
    throw;
  }
}

void TokenData::map_files(const std::vector<TokenFile>& files) {
  for (const TokenFile& f : files) {
    const int fd = ::open(f.path.c_str(), O_RDONLY);
    if (fd < 0) throw UserError(f.path + ": cannot open token file: " + std::strerror(errno));
    struct stat st {};
    ::fstat(fd, &st);
    const size_t bytes = size_t(st.st_size);
    if (bytes == 0 || f.tokens == 0) {
      ::close(fd);
      throw UserError(f.path + ": token file is empty");
    }
    if (bytes < size_t(f.header_bytes + f.tokens * f.token_bytes)) {
      ::close(fd);
      throw UserError(f.path + ": token file shrank to " + std::to_string(bytes) +
                      " bytes since it was inspected");
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    SWEEP_CHECK(p != MAP_FAILED, "mmap " + f.path + ": " + std::strerror(errno));
    MappedFile m;
    m.path = f.path;
    m.map = p;
    m.mapped_bytes = bytes;
    m.tokens = static_cast<const uint8_t*>(p) + f.header_bytes;
    m.width = f.token_bytes;
    m.n = f.tokens;
    files_.push_back(m);
    file_is_validation_.push_back(f.validation);
    n_tokens_ += f.tokens;
  }
}

void TokenData::split(bool by_files, double validation_fraction) {
  auto add = [](std::vector<Region>& split, size_t file, int64_t begin, int64_t end) {
    if (!split.empty() && split.back().file == file && split.back().end == begin) {
      split.back().end = end;  // merge adjacent blocks of the same split and file
    } else {
      split.push_back({file, begin, end, 0});
    }
  };
  if (by_files) {
    for (size_t f = 0; f < files_.size(); ++f) {
      add(file_is_validation_[f] ? validation_ : train_, f, 0, files_[f].n);
    }
  } else {
    // Every k-th block of the files taken end to end is validation. Blocks
    // shrink for small corpora so that both splits exist; each must hold
    // more than one sequence. A block that spans two files is two regions.
    const int64_t k = std::max<int64_t>(2, std::llround(1.0 / validation_fraction));
    const int64_t block =
        std::max<int64_t>(4 * (seq_len_ + 1), std::min<int64_t>(65536, n_tokens_ / (4 * k)));
    int64_t base = 0;  // the file's first token in the end-to-end order
    for (size_t f = 0; f < files_.size(); ++f) {
      for (int64_t at = base; at < base + files_[f].n;) {
        const int64_t b = at / block;
        const int64_t end = std::min(base + files_[f].n, (b + 1) * block);
        add(b % k == k - 1 ? validation_ : train_, f, at - base, end - base);
        at = end;
      }
      base += files_[f].n;
    }
  }
  auto index = [&](std::vector<Region>& regions, std::vector<int64_t>& cumulative) {
    int64_t total = 0;
    for (Region& r : regions) {
      r.starts = std::max<int64_t>(0, r.end - r.begin - seq_len_);
      total += r.starts;
      cumulative.push_back(total);
    }
    return total;
  };
  train_tokens_ = 0;
  for (const Region& r : train_) train_tokens_ += r.end - r.begin;
  const int64_t train_starts = index(train_, train_cumulative_);
  const int64_t validation_starts = index(validation_, validation_cumulative_);
  if (train_starts == 0 || validation_starts == 0) {
    const std::string where = files_.size() == 1
                                  ? files_[0].path
                                  : std::to_string(files_.size()) + " files from " + files_[0].path;
    throw UserError(where + ": corpus of " + std::to_string(n_tokens_) + " tokens (" +
                    std::to_string(train_tokens_) + " train, " +
                    std::to_string(n_tokens_ - train_tokens_) +
                    " validation) is too small for sequences of " + std::to_string(seq_len_) +
                    " tokens in both splits (each needs a file or block of more than " +
                    std::to_string(seq_len_) + " tokens)");
  }
}

TokenData::~TokenData() { unmap(); }

void TokenData::unmap() {
  for (const MappedFile& f : files_) ::munmap(f.map, f.mapped_bytes);
  files_.clear();
}

TokenData::Start TokenData::start_of(const std::vector<Region>& regions,
                                     const std::vector<int64_t>& cumulative, int64_t k) const {
  const size_t r =
      size_t(std::upper_bound(cumulative.begin(), cumulative.end(), k) - cumulative.begin());
  const int64_t before = r == 0 ? 0 : cumulative[r - 1];
  return {regions[r].file, regions[r].begin + (k - before)};
}

void TokenData::fill(const std::vector<Start>& starts, torch::Tensor& x, torch::Tensor& y) const {
  const int64_t n = int64_t(starts.size());
  x = torch::empty({n, seq_len_}, torch::kInt64);
  y = torch::empty({n, seq_len_}, torch::kInt64);
  int64_t* xs = x.data_ptr<int64_t>();
  int64_t* ys = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const MappedFile& f = files_[starts[size_t(i)].file];
    const int64_t s = starts[size_t(i)].offset;
    for (int64_t j = 0; j <= seq_len_; ++j) {
      const int64_t pos = s + j;
      const int64_t token = f.width == 1
                                ? int64_t(f.tokens[pos])
                                : int64_t(reinterpret_cast<const uint16_t*>(f.tokens)[pos]);
      if (vocab_size_ > 0 && token >= vocab_size_) {
        throw UserError(f.path + ": token " + std::to_string(token) + " at position " +
                        std::to_string(pos) +
                        " is not below data.vocab_size = " + std::to_string(vocab_size_));
      }
      if (j < seq_len_) xs[i * seq_len_ + j] = token;
      if (j > 0) ys[i * seq_len_ + j - 1] = token;
    }
  }
}

void TokenData::train_batch(uint64_t seed, int64_t step, int64_t first, int64_t count,
                            torch::Tensor& x, torch::Tensor& y) const {
  const uint64_t total = uint64_t(train_cumulative_.back());
  std::vector<Start> starts;
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
  std::vector<Start> starts;
  for (int64_t i = first; i < first + n; ++i) {
    const int64_t k = int64_t((__int128)i * total / count);
    starts.push_back(start_of(validation_, validation_cumulative_, k));
  }
  fill(starts, x, y);
}

}  // namespace sweep
