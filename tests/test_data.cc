// Token data: tokenizing and caching, splits, deterministic batches.

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

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

}  // namespace
}  // namespace sweep
