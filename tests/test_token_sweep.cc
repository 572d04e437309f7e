// Real tokenized data end to end through the sweepd binary: a study on a set
// of llm.c shards (train and val by name) and one on SentencePiece BPE, each
// trained, stored with its bytes per token and bits per byte, and fitted.

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "model/token_files.h"
#include "sweep_fixture.h"

namespace sweep {
namespace {

using TokenSweepTest = SweepFixture;

// (loss, bits_per_byte) of every row of a run's stored eval curve.
std::vector<std::pair<double, double>> eval_bits(const std::string& file,
                                                 const std::string& run_id) {
  struct Row {
    double loss, bits_per_byte;
  };
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  const hid_t d = H5Dopen2(f, ("/runs/" + run_id + "/eval").c_str(), H5P_DEFAULT);
  EXPECT_GE(d, 0) << run_id;
  const hid_t type = H5Tcreate(H5T_COMPOUND, sizeof(Row));
  H5Tinsert(type, "loss", HOFFSET(Row, loss), H5T_NATIVE_DOUBLE);
  H5Tinsert(type, "bits_per_byte", HOFFSET(Row, bits_per_byte), H5T_NATIVE_DOUBLE);
  const hid_t space = H5Dget_space(d);
  std::vector<Row> rows(size_t(H5Sget_simple_extent_npoints(space)));
  H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data());
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(d);
  H5Fclose(f);
  std::vector<std::pair<double, double>> out;
  for (const Row& r : rows) out.emplace_back(r.loss, r.bits_per_byte);
  return out;
}

// The fixture's corpus as byte tokens in llm.c shards: two train, one val.
void write_byte_shards(const std::string& dir) {
  std::ifstream in(dir + "/corpus.txt", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  const size_t cut[] = {0, text.size() * 45 / 100, text.size() * 9 / 10, text.size()};
  const char* names[] = {"tiny_train_000000.bin", "tiny_train_000001.bin", "tiny_val_000000.bin"};
  for (int i = 0; i < 3; ++i) {
    std::vector<uint16_t> tokens(text.begin() + long(cut[i]), text.begin() + long(cut[i + 1]));
    write_llmc_shard(dir + "/shards/" + names[i], tokens);
  }
}

TEST_F(TokenSweepTest, StudyOnLlmcShardsTrainsStoresBitsPerByteAndFits) {
  std::filesystem::create_directories(dir_ + "/shards");
  write_byte_shards(dir_);
  replace_in_job("corpus = \"" + dir_ + "/corpus.txt\"\nseq_len = 32\nvalidation_fraction = 0.05\n",
                 "corpus = \"" + dir_ +
                     "/shards/*.bin\"\ntokenizer = \"u16\"\n"
                     "vocab_size = 256\nbytes_per_token = 1\nseq_len = 32\n");
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  expect_complete_study();
  EXPECT_NE(log().find("3 files"), std::string::npos) << log();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/cache") &&
               !std::filesystem::is_empty(dir_ + "/cache"))
      << "shards are mapped where they are, not copied into the cache";

  SweepStore store = SweepStore::open_read_only(output_);
  EXPECT_EQ(store.info().bytes_per_token, 1.0);
  for (const RunInfo& run : store.runs()) {
    for (const auto& [loss, bits] : eval_bits(output_, run.run_id))
      EXPECT_NEAR(bits, loss / std::log(2.0), 1e-9) << run.run_id;
  }
  const auto fit = testing_helpers::run_sweepd("fit " + output_);
  EXPECT_EQ(fit.exit_code, 0) << fit.out;
}

TEST_F(TokenSweepTest, StudyOnSentencePieceStoresMeasuredBytesPerToken) {
  replace_in_job("seq_len = 32\n",
                 "seq_len = 32\ntokenizer = \"sentencepiece\"\nvocab_size = 384\n");
  replace_in_job("params = [3e3, 6e3, 1.2e4]", "params = [1.2e4, 2.4e4, 4.8e4]");
  replace_in_job("budgets = [3e9, 1e10]", "budgets = [1e10, 3e10]");
  ASSERT_EQ(wait_exit(start({job_})), 0) << log();
  EXPECT_NE(log().find("SentencePiece"), std::string::npos) << log();

  SweepStore store = SweepStore::open_read_only(output_);
  const double bytes_per_token = store.info().bytes_per_token;
  EXPECT_GT(bytes_per_token, 1.5) << "measured: bytes of text per BPE token";
  EXPECT_LT(bytes_per_token, 8.0);
  ASSERT_FALSE(store.runs().empty());
  for (const RunInfo& run : store.runs()) {
    EXPECT_EQ(run.vocab_size, 384) << run.run_id;
    EXPECT_EQ(store.progress(run.index).state, RunState::kDone) << run.run_id;
    for (const auto& [loss, bits] : eval_bits(output_, run.run_id))
      EXPECT_NEAR(bits, loss / std::log(2.0) / bytes_per_token, 1e-9) << run.run_id;
  }
  const auto fit = testing_helpers::run_sweepd("fit " + output_);
  EXPECT_EQ(fit.exit_code, 0) << fit.out;
}

}  // namespace
}  // namespace sweep
