// The directory protocol: refused steps, retention, leftovers of crashed saves, and loading
// past damaged checkpoints.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../../scratch_dir.h"
#include "checkpoint_test_util.h"

namespace train::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kNumel = 400;

std::unique_ptr<Checkpointer> OpenSync(const std::string& dir, CheckpointOptions options = {}) {
  options.async = false;
  auto ckpt = Checkpointer::Open(dir, nullptr, options);
  TRAIN_CHECK_OK(ckpt.status().ok() ? Status::Ok() : ckpt.status());
  return std::move(*ckpt);
}

void FlipByte(const std::string& path, std::size_t at) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  file.get(c);
  file.seekp(static_cast<std::streamoff>(at));
  file.put(static_cast<char>(c ^ 0x40));
}

TEST(CheckpointCommit, RefusesAStepNotAfterTheNewest) {
  ScratchDir dir;
  auto ckpt = OpenSync(dir.str());
  const OwnedState state = MakeState(0, 1, kNumel, 1, false);
  ASSERT_TRUE(ckpt->Save(5, state.state).ok());
  for (std::int64_t step : {5, 3}) {
    const Status status = ckpt->Save(step, state.state);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
    EXPECT_NE(status.message().find("not greater than the newest step 5"), std::string::npos)
        << status;
  }
  EXPECT_EQ(DirEntries(dir.str()), (std::vector<std::string>{"latest", "step-5"}));
}

TEST(CheckpointCommit, RetentionKeepsTheNewestAndTheMultiples) {
  ScratchDir dir;
  CheckpointOptions options;
  options.keep_last = 2;
  options.keep_every = 5;
  auto ckpt = OpenSync(dir.str(), options);
  const OwnedState state = MakeState(0, 1, kNumel, 1, false);
  for (std::int64_t step = 1; step <= 12; ++step) ASSERT_TRUE(ckpt->Save(step, state.state).ok());
  EXPECT_EQ(DirEntries(dir.str()),
            (std::vector<std::string>{"latest", "step-10", "step-11", "step-12", "step-5"}));
  EXPECT_EQ(ReadText(dir / "latest"), "step-12\n");
  auto list = ckpt->List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].step, 12);
  EXPECT_EQ((*list)[3].step, 5);
  EXPECT_GT((*list)[0].bytes, 0u);
  EXPECT_FALSE((*list)[0].created.empty());
}

TEST(CheckpointCommit, OpenRemovesLeftoverTemporaryDirectories) {
  ScratchDir dir;
  fs::create_directories(dir / ".step-9.tmp-0123456789abcdef");
  std::ofstream(dir / ".step-9.tmp-0123456789abcdef/rank-0.h5") << "torn";
  auto ckpt = OpenSync(dir.str());
  EXPECT_TRUE(DirEntries(dir.str()).empty());
  OwnedState into = MakeState(0, 1, kNumel, 1, true);
  EXPECT_EQ(ckpt->LoadLatest(into.state).status().code(), StatusCode::kNotFound);
}

TEST(CheckpointCommit, FlippedByteIsNamedAndLoadingFallsBack) {
  ScratchDir dir;
  auto ckpt = OpenSync(dir.str());
  ASSERT_TRUE(ckpt->Save(1, MakeState(0, 1, kNumel, 1, false).state).ok());
  ASSERT_TRUE(ckpt->Save(2, MakeState(0, 1, kNumel, 2, false).state).ok());
  const std::string bad = dir / "step-2/rank-0.h5";
  FlipByte(bad, fs::file_size(bad) / 2);

  const Status verify = VerifyCheckpoint(dir / "step-2");
  EXPECT_EQ(verify.code(), StatusCode::kDataLoss);
  EXPECT_NE(verify.message().find(bad), std::string::npos) << verify;
  auto all = ckpt->Verify();
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE((*all)[0].verified.ok());
  EXPECT_TRUE((*all)[1].verified.ok());

  OwnedState into = MakeState(0, 1, kNumel, 1, true);
  auto loaded = ckpt->LoadLatest(into.state);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 1);
  EXPECT_EQ(into.tensors[0].bytes, MakeState(0, 1, kNumel, 1, false).tensors[0].bytes);
  // The damaged step was quarantined by the load: it is no longer a committed step.
  EXPECT_EQ(ckpt->Load(2, into.state).status().code(), StatusCode::kNotFound);
}

TEST(CheckpointCommit, LoadingOneDamagedStepReportsItAndQuarantinesIt) {
  ScratchDir dir;
  auto ckpt = OpenSync(dir.str());
  ASSERT_TRUE(ckpt->Save(1, MakeState(0, 1, kNumel, 1, false).state).ok());
  ASSERT_TRUE(ckpt->Save(2, MakeState(0, 1, kNumel, 2, false).state).ok());
  const std::string bad = dir / "step-2/rank-0.h5";
  FlipByte(bad, fs::file_size(bad) / 2);
  OwnedState into = MakeState(0, 1, kNumel, 1, true);
  const Status status = ckpt->Load(2, into.state).status();
  EXPECT_EQ(status.code(), StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find(bad), std::string::npos) << status;
  EXPECT_FALSE(fs::exists(dir / "step-2"));
  ASSERT_TRUE(ckpt->Save(2, MakeState(0, 1, kNumel, 3, false).state).ok());
}

TEST(CheckpointCommit, TruncatedManifestOrMissingFileIsSkipped) {
  ScratchDir dir;
  auto ckpt = OpenSync(dir.str());
  for (std::int64_t step : {1, 2, 3}) {
    ASSERT_TRUE(ckpt->Save(step, MakeState(0, 1, kNumel, step, false).state).ok());
  }
  fs::resize_file(dir / "step-3/manifest.json", 100);
  fs::remove(dir / "step-2/rank-0.h5");
  EXPECT_NE(VerifyCheckpoint(dir / "step-3").message().find("manifest.json"), std::string::npos);
  const Status missing = VerifyCheckpoint(dir / "step-2");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("rank-0.h5 is missing"), std::string::npos) << missing;
  OwnedState into = MakeState(0, 1, kNumel, 1, true);
  auto loaded = ckpt->LoadLatest(into.state);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 1);
}

TEST(CheckpointCommit, LoadingAMissingTensorOrOtherDtypeIsAnError) {
  ScratchDir dir;
  auto ckpt = OpenSync(dir.str());
  ASSERT_TRUE(ckpt->Save(1, MakeState(0, 1, kNumel, 1, false).state).ok());
  OwnedState into = MakeState(0, 1, kNumel, 1, true);
  into.tensors.push_back({"nope", DType::kFloat32, {}, true, 0, std::vector<std::byte>(8)});
  into.RebuildViews();
  const auto missing = ckpt->LoadLatest(into.state);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status();
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);
}

TEST(CheckpointCommit, RanksMustAgreeOnTheStep) {
  ScratchDir dir;
  OnRanks(2, [&](int rank, Communicator* comm) {
    CheckpointOptions options;
    options.async = false;
    auto ckpt = Checkpointer::Open(dir.str(), comm, options);
    ASSERT_TRUE(ckpt.ok());
    const Status status =
        (*ckpt)->Save(rank == 0 ? 4 : 5, MakeState(rank, 2, kNumel, 1, false).state);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
  });
  EXPECT_TRUE(DirEntries(dir.str()).empty());
}

}  // namespace
}  // namespace train::testing
