// Files large enough to be read in several chunks by two threads: the loader streams them
// straight into the caller's tensors (also partial ranges), and a corrupt file still never
// loads; async saves reuse their snapshot memory and each one is still a snapshot.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "../../scratch_dir.h"
#include "checkpoint_test_util.h"

namespace train::testing {
namespace {

// Three 16 MiB chunks and a partial one: the pipelined path with scratch and direct chunks.
constexpr std::uint64_t kNumel = (std::uint64_t{52} << 20) / sizeof(float);

std::vector<std::byte> Pattern(std::uint64_t seed) { return PatternBytes(kNumel * 4, seed); }

CheckpointState OneTensor(std::vector<std::byte>& bytes, bool replicated, std::uint64_t offset,
                          std::uint64_t numel) {
  CheckpointState state;
  CheckpointTensor tensor;
  tensor.name = "big";
  tensor.data = TensorView{bytes.data(), DType::kFloat32, numel};
  tensor.replicated = replicated;
  tensor.offset = offset;
  if (!replicated) tensor.shape = {kNumel};
  state.tensors.push_back(tensor);
  state.rng["python"] = "rng state";
  return state;
}

// Flips one byte of `path` at `offset`.
void Corrupt(const std::string& path, off_t offset) {
  const int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  unsigned char byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, offset), 1);
  byte ^= 0x5a;
  ASSERT_EQ(::pwrite(fd, &byte, 1, offset), 1);
  ::close(fd);
}

TEST(CheckpointStream, LargeFilesLoadWholeAndInRangesAndACorruptOneFallsBack) {
  ScratchDir dir;
  CheckpointOptions options;
  options.async = false;
  auto ckpt = Checkpointer::Open(dir.str(), nullptr, options);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::vector<std::byte> first = Pattern(1), second = Pattern(2);
  ASSERT_TRUE((*ckpt)->Save(1, OneTensor(first, false, 0, kNumel)).ok());
  ASSERT_TRUE((*ckpt)->Save(2, OneTensor(second, false, 0, kNumel)).ok());

  std::vector<std::byte> whole(kNumel * 4);
  CheckpointState into = OneTensor(whole, false, 0, kNumel);
  auto loaded = (*ckpt)->LoadLatest(into);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 2);
  EXPECT_TRUE(whole == second);
  EXPECT_EQ(loaded->rng.at("python"), "rng state");

  // A range that starts and ends inside chunks: the rest of the file is read only to check it.
  const std::uint64_t begin = kNumel / 3 + 5, count = kNumel / 2;
  std::vector<std::byte> part(count * 4);
  CheckpointState range = OneTensor(part, false, begin, count);
  ASSERT_TRUE((*ckpt)->Load(2, range).ok());
  EXPECT_EQ(std::memcmp(part.data(), second.data() + begin * 4, part.size()), 0);

  // A flipped byte in the newest file's data: Load of that step fails (and quarantines it),
  // LoadLatest falls back to the previous step and every element is the previous step's.
  Corrupt(dir / "step-2/rank-0.h5", static_cast<off_t>(kNumel * 2));
  CheckpointState again = OneTensor(whole, false, 0, kNumel);
  EXPECT_EQ((*ckpt)->Load(2, again).status().code(), StatusCode::kDataLoss);
  loaded = (*ckpt)->LoadLatest(again);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 1);
  EXPECT_TRUE(whole == first);
  auto quarantined = ListQuarantinedCheckpoints(dir.str());
  ASSERT_TRUE(quarantined.ok() && quarantined->size() == 1u);
  EXPECT_EQ(VerifyCheckpoint((*quarantined)[0].path).code(), StatusCode::kDataLoss);
  EXPECT_TRUE(VerifyCheckpoint(dir / "step-1").ok());
}

TEST(CheckpointStream, AsyncSavesReuseTheirSnapshotAndEachIsASnapshot) {
  ScratchDir dir;
  auto ckpt = Checkpointer::Open(dir.str(), nullptr);  // async by default
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::vector<std::byte> bytes(kNumel * 4);
  for (std::int64_t step = 1; step <= 3; ++step) {
    bytes = Pattern(static_cast<std::uint64_t>(step));
    ASSERT_TRUE((*ckpt)->Save(step, OneTensor(bytes, true, 0, kNumel)).ok());
    std::fill(bytes.begin(), bytes.end(), std::byte{7});  // the caller goes on at once
  }
  ASSERT_TRUE((*ckpt)->WaitForSave().ok());
  for (std::int64_t step = 1; step <= 3; ++step) {
    std::vector<std::byte> into(kNumel * 4);
    CheckpointState state = OneTensor(into, true, 0, kNumel);
    auto loaded = (*ckpt)->Load(step, state);
    if (!loaded.ok() && loaded.status().code() == StatusCode::kNotFound) continue;  // retention
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_TRUE(into == Pattern(static_cast<std::uint64_t>(step))) << "step " << step;
  }
}

TEST(CheckpointStream, ANameThatIsAlsoAGroupIsRefusedBySaveItself) {
  ScratchDir dir;
  auto ckpt = Checkpointer::Open(dir.str(), nullptr);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::vector<float> a(4), b(4);
  CheckpointState state;
  state.tensors.push_back({"layer", TensorView{a.data(), DType::kFloat32, 4}, {}, true, 0});
  state.tensors.push_back({"layer/weight", TensorView{b.data(), DType::kFloat32, 4}, {}, true, 0});
  const Status status = (*ckpt)->Save(1, state);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("layer/weight"), std::string::npos) << status;
  EXPECT_TRUE((*ckpt)->WaitForSave().ok());
}

}  // namespace
}  // namespace train::testing
