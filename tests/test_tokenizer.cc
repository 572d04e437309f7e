// BPE through SentencePiece: a model trained on the corpus (cached,
// deterministic, lossless) or given, the corpus encoded into a cached uint16
// token file with its measured bytes per token, and the job keys that choose it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "model/data.h"
#include "model/tokenizer.h"
#include "spec/job_spec.h"
#include "test_helpers.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<uint16_t> read_tokens(const std::string& path) {
  const std::string bytes = read_file(path);
  std::vector<uint16_t> tokens(bytes.size() / 2);
  std::memcpy(tokens.data(), bytes.data(), 2 * tokens.size());
  return tokens;
}

class TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "tokenizer_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // Two files, one with characters outside ASCII (byte fallback must keep them).
    text_a_ = testing_helpers::english_like_text(400000, 11);
    text_b_ = "Caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 \xe6\xbc\xa2\xe5\xad\x97 \xf0\x9f\x99\x82\n" +
              testing_helpers::english_like_text(200000, 12);
    spec_.files = {testing_helpers::write_file(dir_ + "/a.txt", text_a_),
                   testing_helpers::write_file(dir_ + "/b.txt", text_b_)};
    spec_.tokenizer = TokenizerKind::kSentencePiece;
    spec_.vocab_size = 512;
    spec_.cache_dir = dir_ + "/cache";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_, text_a_, text_b_;
  CorpusSpec spec_;
};

TEST_F(TokenizerTest, TrainedModelEncodesTheCorpusIntoACachedTokenFile) {
  const PreparedCorpus corpus = prepare_corpus(spec_);
  ASSERT_EQ(corpus.files.size(), 1u);
  const TokenFile& file = corpus.files[0];
  EXPECT_EQ(file.token_bytes, 2);
  EXPECT_EQ(corpus.vocab_size, 512);
  ASSERT_TRUE(fs::exists(corpus.tokenizer_model)) << corpus.tokenizer_model;
  EXPECT_EQ(fs::path(corpus.tokenizer_model).parent_path(), fs::path(spec_.cache_dir));
  EXPECT_EQ(sentencepiece_vocab_size(corpus.tokenizer_model), 512);

  const std::vector<uint16_t> tokens = read_tokens(file.path);
  ASSERT_EQ(int64_t(tokens.size()), file.tokens);
  EXPECT_LT(*std::max_element(tokens.begin(), tokens.end()), 512);
  // Bytes per token: the text's bytes over the tokens, and BPE merges many.
  const double text_bytes = double(text_a_.size() + text_b_.size());
  EXPECT_NEAR(corpus.bytes_per_token, text_bytes / double(tokens.size()), 1e-9);
  EXPECT_GT(corpus.bytes_per_token, 2.0) << "a 512-piece BPE on English-like text";

  // Lossless: the tokens decode to the text, non-ASCII characters included.
  const std::string model = read_file(corpus.tokenizer_model);
  EXPECT_EQ(decode_with_sentencepiece(model, tokens), text_a_ + text_b_);

  // Cached: the second call trains and encodes nothing.
  const auto written = fs::last_write_time(file.path);
  const auto model_written = fs::last_write_time(corpus.tokenizer_model);
  const PreparedCorpus again = prepare_corpus(spec_);
  EXPECT_EQ(again.files[0].path, file.path);
  EXPECT_EQ(again.bytes_per_token, corpus.bytes_per_token);
  EXPECT_EQ(fs::last_write_time(file.path), written);
  EXPECT_EQ(fs::last_write_time(corpus.tokenizer_model), model_written);

  // Another vocabulary size is another model and another token file (with
  // fewer merges, fewer bytes per token: the text has only 43 words).
  spec_.vocab_size = 320;
  const PreparedCorpus smaller = prepare_corpus(spec_);
  EXPECT_NE(smaller.tokenizer_model, corpus.tokenizer_model);
  EXPECT_NE(smaller.files[0].path, file.path);
  EXPECT_LT(smaller.bytes_per_token, corpus.bytes_per_token);
}

TEST_F(TokenizerTest, TrainingIsDeterministic) {
  SentencePieceTraining training;
  training.vocab_size = 400;
  training.sample_bytes = 200000;  // a sample: every k-th window of both files
  const std::string first = train_sentencepiece(spec_.files, training);
  const std::string second = train_sentencepiece(spec_.files, training);
  EXPECT_EQ(first, second);
  training.sample_bytes = 300000;
  EXPECT_NE(train_sentencepiece(spec_.files, training), first) << "the sample decides the model";
}

TEST_F(TokenizerTest, TrainedTokensFeedTokenData) {
  TokenData data(prepare_corpus(spec_), 32, 0.05);
  torch::Tensor x, y;
  data.train_batch(1, 0, 0, 8, x, y);
  EXPECT_LT(x.max().item<int64_t>(), 512);
  EXPECT_EQ(data.bytes_per_token(), 2) << "stored as uint16";
}

TEST_F(TokenizerTest, GivenModelIsLoadedAndItsVocabularyMustMatch) {
  SentencePieceTraining training;
  training.vocab_size = 448;
  const std::string model = train_sentencepiece(spec_.files, training);
  const std::string path = testing_helpers::write_file(dir_ + "/given.model", model);
  EXPECT_EQ(sentencepiece_vocab_size(path), 448);

  spec_.tokenizer_model = path;
  spec_.vocab_size = 448;
  const PreparedCorpus corpus = prepare_corpus(spec_);
  EXPECT_EQ(corpus.tokenizer_model, path);
  EXPECT_EQ(corpus.vocab_size, 448);
  for (const auto& entry : fs::directory_iterator(spec_.cache_dir)) {
    EXPECT_EQ(entry.path().filename().string().rfind("spm-", 0), std::string::npos)
        << "a given model is not trained again: " << entry.path();
  }
  EXPECT_EQ(decode_with_sentencepiece(model, read_tokens(corpus.files[0].path)), text_a_ + text_b_);

  spec_.vocab_size = 512;
  EXPECT_THROW(prepare_corpus(spec_), UserError);
}

TEST_F(TokenizerTest, UnreadableModelIsAUserErrorNamingTheFile) {
  const std::string path = testing_helpers::write_file(dir_ + "/broken.model", "not a model");
  try {
    sentencepiece_vocab_size(path);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST_F(TokenizerTest, VocabularyTooLargeForTheTextIsAUserErrorAtVocabSize) {
  spec_.files = {testing_helpers::write_file(dir_ + "/small.txt", "a few words of text\n")};
  spec_.vocab_size = 4096;
  try {
    prepare_corpus(spec_);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("data.vocab_size = 4096"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(!fs::exists(spec_.cache_dir) || fs::is_empty(spec_.cache_dir))
      << "nothing half-written";
}

// ---- the job keys -----------------------------------------------------------

std::string job_text(const std::string& data_lines) {
  return "[data]\ncorpus = \"/nonexistent/corpus.txt\"\n" + data_lines +
         "\n[grid]\nbudgets = [1e12]\nparams = [1e5]\n";
}

std::string error_of(const std::string& text) {
  try {
    parse_job_text(text, "t.toml");
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(TokenizerTest, JobTakesTheGivenModelsVocabularyWhenItLoads) {
  SentencePieceTraining training;
  training.vocab_size = 448;
  const std::string path = testing_helpers::write_file(dir_ + "/given.model",
                                                       train_sentencepiece(spec_.files, training));
  const JobSpec job = parse_job_text(
      job_text("tokenizer = \"sentencepiece\"\ntokenizer_model = \"" + path + "\""), "t.toml");
  EXPECT_EQ(job.data.tokenizer, Tokenizer::kSentencePiece);
  EXPECT_EQ(job.data.vocab_size, 448);
  EXPECT_EQ(job.model.shape.vocab_size, 448) << "the vocabulary reaches the shapes and N";

  // A conflicting vocab_size is an error at that key, with its position.
  const std::string conflict = error_of(job_text(
      "tokenizer = \"sentencepiece\"\ntokenizer_model = \"" + path + "\"\nvocab_size = 4096"));
  EXPECT_EQ(conflict.rfind("t.toml:5:14: data.vocab_size = 4096: ", 0), 0u) << conflict;
  EXPECT_NE(conflict.find("448 pieces"), std::string::npos) << conflict;

  const std::string missing = error_of(
      job_text("tokenizer = \"sentencepiece\"\ntokenizer_model = \"" + dir_ + "/none.model\""));
  EXPECT_EQ(missing.rfind("t.toml:4:19: data.tokenizer_model = ", 0), 0u) << missing;
}

TEST_F(TokenizerTest, JobKeysOfSentencePieceAndShardsAreChecked) {
  const JobSpec trained =
      parse_job_text(job_text("tokenizer = \"sentencepiece\"\nvocab_size = 2048"), "t.toml");
  EXPECT_EQ(trained.data.vocab_size, 2048);
  EXPECT_EQ(trained.data.tokenizer_model, "");
  EXPECT_EQ(trained.data.tokenizer_sample_bytes, 10'000'000);
  EXPECT_EQ(to_string(trained.data.tokenizer), "sentencepiece");

  EXPECT_NE(error_of(job_text("tokenizer = \"sentencepiece\"")).find("data.vocab_size"),
            std::string::npos);
  EXPECT_NE(error_of(job_text("tokenizer_model = \"x.model\""))
                .find("applies only with tokenizer = \"sentencepiece\""),
            std::string::npos);
  EXPECT_NE(error_of(job_text("tokenizer = \"sentencepiece\"\nvocab_size = 100"))
                .find("data.vocab_size = 100"),
            std::string::npos);
  EXPECT_NE(
      error_of(job_text("bytes_per_token = 4.2")).find("applies only with tokenizer = \"u16\""),
      std::string::npos);
  EXPECT_NE(error_of(job_text("tokenizer = \"sentencepiece\"\nvocab_size = 512\n"
                              "validation = \"shards\""))
                .find("data.validation = \"shards\""),
            std::string::npos);

  // Shards by name: chosen by "auto" when some files are named val.
  const std::string train = testing_helpers::write_file(dir_ + "/train.bin", "abcd");
  const std::string val = testing_helpers::write_file(dir_ + "/val.bin", "abcd");
  auto shards_job = [&](const std::string& lines) {
    return "[data]\ncorpus = \"" + dir_ + "/*.bin\"\ntokenizer = \"u16\"\nvocab_size = 50304\n" +
           lines + "\n[grid]\nbudgets = [1e12]\nparams = [1e5]\n";
  };
  const JobSpec by_name = parse_job_text(shards_job("bytes_per_token = 4.3"), "t.toml");
  EXPECT_EQ(by_name.data.validation, Validation::kShards);
  EXPECT_EQ(by_name.data.bytes_per_token, 4.3);
  EXPECT_EQ(parse_job_text(shards_job("validation = \"split\""), "t.toml").data.validation,
            Validation::kSplit);
  EXPECT_NE(error_of(shards_job("validation_fraction = 0.1")).find("data.validation_fraction"),
            std::string::npos);
  fs::remove(val);
  EXPECT_EQ(parse_job_text(shards_job(""), "t.toml").data.validation, Validation::kSplit);
  EXPECT_NE(error_of(shards_job("validation = \"shards\"")).find("data.validation = \"shards\""),
            std::string::npos);
  fs::remove(train);
}

}  // namespace
}  // namespace sweep
