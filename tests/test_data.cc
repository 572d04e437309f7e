// Token data: tokenizing and caching, splits, deterministic batches; token
// shards as nanoGPT and llm.c write them.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/error.h"
#include "model/data.h"
#include "test_helpers.h"

namespace sweep {
namespace {

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "data_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    text_ = testing_helpers::english_like_text(300000, 7);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, text_;
};

TEST_F(DataTest, GzipAndPlainTextTokenizeToTheSameBytes) {
  const std::string plain = testing_helpers::write_file(dir_ + "/a.txt", text_);
  const std::string gz = dir_ + "/a.txt.gz";
  gzFile out = gzopen(gz.c_str(), "wb");
  gzwrite(out, text_.data(), unsigned(text_.size()));
  gzclose(out);
  CorpusSpec spec;
  spec.cache_dir = dir_ + "/cache";
  spec.files = {plain};
  const std::string a = prepare_tokens(spec);
  spec.files = {gz};
  const std::string b = prepare_tokens(spec);
  EXPECT_NE(a, b);
  EXPECT_EQ(std::filesystem::file_size(a), text_.size());
  EXPECT_EQ(std::filesystem::file_size(b), text_.size());
  // Cached: a second call returns the same file without rewriting it.
  const auto written = std::filesystem::last_write_time(b);
  EXPECT_EQ(prepare_tokens(spec), b);
  EXPECT_EQ(std::filesystem::last_write_time(b), written);
}

TEST_F(DataTest, CorruptGzipIsAUserError) {
  std::string bad = "\x1f\x8b\x08\x00garbage-that-is-not-deflate";
  CorpusSpec spec;
  spec.cache_dir = dir_ + "/cache";
  spec.files = {testing_helpers::write_file(dir_ + "/bad.gz", bad)};
  EXPECT_THROW(prepare_tokens(spec), UserError);
  EXPECT_TRUE(std::filesystem::is_empty(spec.cache_dir)) << "no half-written cache file";
}

TEST_F(DataTest, BatchesAreAPureFunctionOfSeedStepAndIndex) {
  CorpusSpec spec;
  spec.cache_dir = dir_ + "/cache";
  spec.files = {testing_helpers::write_file(dir_ + "/a.txt", text_)};
  TokenData data(prepare_tokens(spec), 1, 64, 0.02);
  torch::Tensor x1, y1, x2, y2, xa, ya, xb, yb;
  data.train_batch(5, 17, 0, 8, x1, y1);
  data.train_batch(5, 17, 0, 8, x2, y2);
  EXPECT_TRUE(torch::equal(x1, x2));
  // Two ranks' halves are the whole batch.
  data.train_batch(5, 17, 0, 4, xa, ya);
  data.train_batch(5, 17, 4, 4, xb, yb);
  EXPECT_TRUE(torch::equal(torch::cat({xa, xb}), x1));
  // Targets are inputs shifted by one token.
  EXPECT_TRUE(torch::equal(x1.index({torch::indexing::Slice(), torch::indexing::Slice(1)}),
                           y1.index({torch::indexing::Slice(), torch::indexing::Slice(0, -1)})));
  data.train_batch(5, 18, 0, 8, x2, y2);
  EXPECT_FALSE(torch::equal(x1, x2)) << "another step, another batch";
}

TEST_F(DataTest, SplitsCoverTheCorpusAndValidationIsFixed) {
  CorpusSpec spec;
  spec.cache_dir = dir_ + "/cache";
  spec.files = {testing_helpers::write_file(dir_ + "/a.txt", text_)};
  TokenData data(prepare_tokens(spec), 1, 64, 0.1);
  EXPECT_EQ(data.size(), int64_t(text_.size()));
  const double share = double(data.validation_tokens()) / double(data.size());
  EXPECT_NEAR(share, 0.1, 0.03);
  torch::Tensor x1, y1, x2, y2;
  data.validation_batch(16, 0, 16, x1, y1);
  data.validation_batch(16, 0, 16, x2, y2);
  EXPECT_TRUE(torch::equal(x1, x2));
}

TEST_F(DataTest, TooSmallCorpusIsAUserError) {
  CorpusSpec spec;
  spec.cache_dir = dir_ + "/cache";
  spec.files = {testing_helpers::write_file(dir_ + "/tiny.txt", "just a few words")};
  EXPECT_THROW(TokenData(prepare_tokens(spec), 1, 64, 0.1), UserError);
}

// ---- token shards (nanoGPT, llm.c) ----------------------------------------

// Token i of shard `shard` is shard * 10000 + i % 10000: a batch row shows
// which shard it came from and whether its tokens are consecutive.
std::vector<uint16_t> shard_tokens(int shard, int64_t n) {
  std::vector<uint16_t> tokens(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) tokens[size_t(i)] = uint16_t(shard * 10000 + i % 10000);
  return tokens;
}

void write_headerless(const std::string& path, const std::vector<uint16_t>& tokens) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(tokens.data()), std::streamsize(2 * tokens.size()));
}

// The raw bytes of an llm.c shard with its header fields set as given.
void write_llmc_raw(const std::string& path, int32_t magic, int32_t version, int32_t count,
                    int64_t tokens_written) {
  int32_t header[256] = {};
  header[0] = magic;
  header[1] = version;
  header[2] = count;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header), sizeof(header));
  const std::vector<uint16_t> tokens = shard_tokens(1, tokens_written);
  out.write(reinterpret_cast<const char*>(tokens.data()), std::streamsize(2 * tokens.size()));
}

// The UserError's message, or "" when `f` does not throw one.
template <typename F>
std::string user_error_of(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST_F(DataTest, LlmcShardHeaderIsReadAndItsTokensMapped) {
  const std::string path = dir_ + "/fineweb_train_000001.bin";
  write_llmc_shard(path, shard_tokens(2, 5000));
  const TokenFile file = inspect_token_file(path);
  EXPECT_EQ(file.header_bytes, 1024);
  EXPECT_EQ(file.tokens, 5000);
  EXPECT_EQ(file.token_bytes, 2);
  EXPECT_FALSE(file.validation);

  PreparedCorpus corpus;
  corpus.files = {file};
  corpus.vocab_size = 30000;
  TokenData data(corpus, 16, 0.1);
  EXPECT_EQ(data.size(), 5000) << "the header is not read as tokens";
  torch::Tensor x, y;
  data.train_batch(1, 0, 0, 32, x, y);
  for (int64_t i = 0; i < 32; ++i) {
    const int64_t first = x[i][0].item<int64_t>();
    EXPECT_GE(first, 20000) << "row " << i << " starts in the header";
    for (int64_t j = 1; j < 16; ++j) ASSERT_EQ(x[i][j].item<int64_t>(), first + j) << "row " << i;
  }
}

TEST_F(DataTest, FileWithoutTheMagicIsHeaderlessNanoGptTokens) {
  const std::string path = dir_ + "/train.bin";
  write_llmc_raw(path, kLlmcMagic + 1, 1, 100, 100);  // a near miss is not llm.c's
  const TokenFile file = inspect_token_file(path);
  EXPECT_EQ(file.header_bytes, 0);
  EXPECT_EQ(file.tokens, 512 + 100);
}

TEST_F(DataTest, LlmcShardWithAnotherVersionIsAUserErrorNamingTheFile) {
  const std::string path = dir_ + "/llama_train_000.bin";
  write_llmc_raw(path, kLlmcMagic, 7, 100, 100);
  const std::string error = user_error_of([&] { inspect_token_file(path); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("version 7"), std::string::npos) << error;
}

TEST_F(DataTest, TruncatedLlmcShardIsAUserErrorNamingTheFile) {
  const std::string path = dir_ + "/cut_train_000.bin";
  write_llmc_raw(path, kLlmcMagic, 1, 1000, 600);  // the header counts 1000 tokens
  std::string error = user_error_of([&] { inspect_token_file(path); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("1000 tokens"), std::string::npos) << error;

  // Cut inside the header.
  std::filesystem::resize_file(path, 100);
  error = user_error_of([&] { inspect_token_file(path); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("header"), std::string::npos) << error;

  // A headerless file of an odd number of bytes is not uint16 tokens.
  testing_helpers::write_file(path, "abc");
  error = user_error_of([&] { inspect_token_file(path); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

TEST_F(DataTest, ValidationShardsAreKnownByName) {
  for (const char* name : {"val.bin", "fineweb_val_000000.bin", "tiny_shakespeare_val.bin",
                           "data/x/validation-0.bin", "VAL-part.bin"}) {
    const bool expected = std::string(name) != "VAL-part.bin";  // the rule is case-sensitive
    EXPECT_EQ(is_validation_shard(name), expected) << name;
  }
  for (const char* name : {"train.bin", "fineweb_train_000001.bin", "interval.bin",
                           "eval_train.bin", "values.bin", "/data/val/train.bin"}) {
    EXPECT_FALSE(is_validation_shard(name)) << name;
  }
}

TEST_F(DataTest, ShardSetIsOneDatasetAndNoSequenceCrossesAFile) {
  // Three shards: two llm.c, one headerless; none long enough that random
  // starts would miss a boundary if sequences could cross one.
  std::vector<std::string> paths = {dir_ + "/s_train_000.bin", dir_ + "/s_train_001.bin",
                                    dir_ + "/s_train_002.bin"};
  write_llmc_shard(paths[0], shard_tokens(1, 700));
  write_headerless(paths[1], shard_tokens(2, 300));
  write_llmc_shard(paths[2], shard_tokens(3, 1000));
  CorpusSpec spec;
  spec.tokenizer = TokenizerKind::kTokenFiles;
  spec.vocab_size = 40000;
  spec.files = paths;
  spec.cache_dir = dir_ + "/cache";
  const PreparedCorpus corpus = prepare_corpus(spec);
  EXPECT_FALSE(std::filesystem::exists(spec.cache_dir)) << "shards are mapped, never copied";
  ASSERT_EQ(corpus.files.size(), 3u);
  EXPECT_TRUE(std::isnan(corpus.bytes_per_token)) << "unknown for token files";

  TokenData data(corpus, 32, 0.1);
  EXPECT_EQ(data.size(), 2000);
  EXPECT_EQ(data.file_count(), 3);
  std::set<int64_t> shards_seen;
  auto check_rows = [&](const torch::Tensor& x, const torch::Tensor& y, const std::string& what) {
    for (int64_t i = 0; i < x.size(0); ++i) {
      const int64_t first = x[i][0].item<int64_t>();
      shards_seen.insert(first / 10000);
      for (int64_t j = 0; j < 32; ++j) {
        ASSERT_EQ(x[i][j].item<int64_t>(), first + j) << what << " row " << i << " crosses a file";
        ASSERT_EQ(y[i][j].item<int64_t>(), first + j + 1) << what << " row " << i;
      }
    }
  };
  torch::Tensor x, y, x2, y2;
  for (int64_t step = 0; step < 50; ++step) {
    data.train_batch(9, step, 0, 16, x, y);
    check_rows(x, y, "train step " + std::to_string(step));
  }
  EXPECT_EQ(shards_seen, (std::set<int64_t>{1, 2, 3})) << "every shard is sampled";
  data.validation_batch(16, 0, 16, x, y);
  check_rows(x, y, "validation");

  // The same files give the same batches (pure function of seed, step, index).
  TokenData again(prepare_corpus(spec), 32, 0.1);
  data.train_batch(9, 7, 0, 16, x, y);
  again.train_batch(9, 7, 0, 16, x2, y2);
  EXPECT_TRUE(torch::equal(x, x2));
  again.train_batch(9, 7, 8, 8, x2, y2);
  EXPECT_TRUE(torch::equal(x.index({torch::indexing::Slice(8)}), x2));
}

TEST_F(DataTest, ValShardIsTheValidationSetAndNeverTrainedOn) {
  std::vector<std::string> paths = {dir_ + "/train.bin", dir_ + "/val.bin"};
  write_headerless(paths[0], shard_tokens(1, 3000));
  write_llmc_shard(paths[1], shard_tokens(2, 800));
  CorpusSpec spec;
  spec.tokenizer = TokenizerKind::kTokenFiles;
  spec.vocab_size = 30000;
  spec.files = paths;
  spec.validation_shards = true;
  TokenData data(prepare_corpus(spec), 16, 0.5);
  EXPECT_EQ(data.train_tokens(), 3000);
  EXPECT_EQ(data.validation_tokens(), 800) << "validation_fraction is not used";
  torch::Tensor x, y;
  for (int64_t step = 0; step < 20; ++step) {
    data.train_batch(3, step, 0, 16, x, y);
    EXPECT_EQ(torch::div(x, 10000, /*rounding_mode=*/"floor").eq(1).all().item<bool>(), true)
        << "train batch from val.bin";
  }
  data.validation_batch(32, 0, 32, x, y);
  EXPECT_EQ(torch::div(x, 10000, /*rounding_mode=*/"floor").eq(2).all().item<bool>(), true)
      << "validation batch from train.bin";

  // By split instead: both files give both splits.
  spec.validation_shards = false;
  TokenData split(prepare_corpus(spec), 16, 0.5);
  EXPECT_LT(split.train_tokens(), 3000);

  // Shards without a validation file cannot be split by name.
  spec.validation_shards = true;
  spec.files = {paths[0]};
  const std::string error = user_error_of([&] { prepare_corpus(spec); });
  EXPECT_NE(error.find("no file is named as validation"), std::string::npos) << error;
}

TEST_F(DataTest, TokenNotBelowTheVocabularyIsAUserErrorNamingTheFile) {
  const std::string path = dir_ + "/big_train.bin";
  write_llmc_shard(path, shard_tokens(3, 2000));  // ids from 30000
  CorpusSpec spec;
  spec.tokenizer = TokenizerKind::kTokenFiles;
  spec.vocab_size = 50304;
  spec.files = {path};
  TokenData fine(prepare_corpus(spec), 16, 0.1);
  torch::Tensor x, y;
  fine.train_batch(1, 0, 0, 4, x, y);
  spec.vocab_size = 30000;
  TokenData wrong(prepare_corpus(spec), 16, 0.1);
  const std::string error = user_error_of([&] { wrong.train_batch(1, 0, 0, 4, x, y); });
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_NE(error.find("data.vocab_size = 30000"), std::string::npos) << error;
}

}  // namespace
}  // namespace sweep
