// Data parallelism under real MPI ranks (run by ctest as `mpirun -np 2`): the
// slot all-reduce, and a run on 2 ranks following the same curve as on 1 rank
// with the same global batch.

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <filesystem>

#include "model/counting.h"
#include "model/data.h"
#include "model/train.h"
#include "mpi_gtest.h"
#include "test_helpers.h"
#include "tiny_model.h"
#include "worker/collectives.h"
#include "worker/comm.h"

namespace sweep {
namespace {

using testing_helpers::world_rank;

// A slot of every rank (the coordinator's role does not matter here).
SlotLayout whole_world_slot() {
  SlotLayout layout;
  MPI_Comm_rank(MPI_COMM_WORLD, &layout.world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &layout.world_size);
  MPI_Comm_dup(MPI_COMM_WORLD, &layout.slot_comm);
  layout.slot = 0;
  layout.slot_rank = layout.world_rank;
  layout.slot_size = layout.world_size;
  return layout;
}

TEST(Mpi, SlotAllReduceSumsOverRanks) {
  SlotLayout layout = whole_world_slot();
  auto reduce = slot_all_reduce(layout);
  ASSERT_TRUE(bool(reduce));
  torch::Tensor t = torch::full({1000}, float(layout.slot_rank + 1));
  reduce(t);
  const float expected = float(layout.slot_size * (layout.slot_size + 1) / 2);
  EXPECT_TRUE(torch::allclose(t, torch::full({1000}, expected)));
  release_slot_communicators(layout);
}

TEST(Mpi, LayoutPutsRankZeroOutsideSlots) {
  GroupLayout layout = make_group_layout(LayoutRequest{});
  if (layout.world_rank == 0) {
    EXPECT_FALSE(layout.worker());
  } else {
    ASSERT_EQ(layout.mine.size(), 1u);
    EXPECT_EQ(layout.mine[0].slot_size, 1);
  }
  EXPECT_EQ(int(layout.groups.size()), layout.world_size - 1);
  release_group_communicators(layout);
}

TEST(Mpi, TwoRanksFollowTheOneRankCurve) {
  torch::set_num_threads(1);
  const std::string dir = ::testing::TempDir() + "mpi_dp_test";
  if (world_rank() == 0) {
    std::filesystem::create_directories(dir);
    testing_helpers::write_file(dir + "/corpus.txt", testing_helpers::english_like_text(300000, 9));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  CorpusSpec spec;
  spec.files = {dir + "/corpus.txt"};
  spec.cache_dir = dir + "/cache-" + std::to_string(world_rank());
  TokenData data(prepare_tokens(spec), 1, 32, 0.05);

  TrainConfig c = testing_helpers::tiny_train_config(/*steps=*/40, /*seed=*/11, /*warmup_steps=*/4);

  // Reference: rank 0 alone with the whole batch.
  std::vector<TrainRecord> alone;
  if (world_rank() == 0) {
    TrainHooks hooks;
    hooks.on_train = [&](const TrainRecord& r) { alone.push_back(r); };
    train_run(c, data, hooks);
  }
  // The same run split over every rank.
  SlotLayout layout = whole_world_slot();
  c.rank = layout.slot_rank;
  c.world = layout.slot_size;
  std::vector<TrainRecord> split;
  TrainHooks hooks;
  hooks.collectives = slot_collectives(layout);
  hooks.on_train = [&](const TrainRecord& r) { split.push_back(r); };
  train_run(c, data, hooks);
  release_slot_communicators(layout);

  if (world_rank() == 0) {
    ASSERT_EQ(split.size(), alone.size());
    double worst = 0;
    for (size_t i = 0; i < alone.size(); ++i) {
      worst = std::max(worst, std::fabs(split[i].loss - alone[i].loss));
    }
    // Float sums in another order: equal to ~1e-6 relative, not bitwise.
    EXPECT_LT(worst, 1e-4) << "largest loss difference over " << alone.size()
                           << " steps: " << worst;
    EXPECT_NEAR(split.back().loss, alone.back().loss, 1e-4);
  } else {
    EXPECT_TRUE(split.empty()) << "only the slot leader reports records";
  }
}

}  // namespace
}  // namespace sweep

int main(int argc, char** argv) { return sweep::testing_helpers::run_mpi_tests(argc, argv); }
