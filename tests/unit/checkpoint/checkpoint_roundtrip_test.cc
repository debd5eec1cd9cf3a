// Saving and loading give back every byte: all dtypes, shapes, replicated and sharded tensors,
// optimizer, sampler, rng and metadata, with 1 and 4 ranks and across world sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "../../scratch_dir.h"
#include "checkpoint_test_util.h"
#include "crc32c.h"

namespace train::testing {
namespace {

constexpr std::uint64_t kShardedNumel = 1000;

CheckpointOptions SyncOptions() {
  CheckpointOptions options;
  options.async = false;
  return options;
}

// The tensors of `loaded` equal those of the state saved by a job of `saved_world` ranks.
void ExpectTensorsEqual(const OwnedState& expected, const OwnedState& loaded) {
  ASSERT_EQ(expected.tensors.size(), loaded.tensors.size());
  for (std::size_t i = 0; i < expected.tensors.size(); ++i) {
    EXPECT_EQ(expected.tensors[i].bytes, loaded.tensors[i].bytes)
        << "tensor " << expected.tensors[i].name;
  }
}

void ExpectRestOfState(const LoadedCheckpoint& loaded, const OwnedState& saved, int rank,
                       int saved_world) {
  ASSERT_TRUE(loaded.optimizer.has_value());
  EXPECT_EQ(loaded.optimizer->step, saved.state.optimizer->step);
  EXPECT_EQ(loaded.optimizer->names, saved.state.optimizer->names);
  EXPECT_EQ(loaded.optimizer->buffers, saved.state.optimizer->buffers);
  EXPECT_EQ(loaded.sampler, saved.state.sampler);
  EXPECT_EQ(loaded.metadata, saved.state.metadata);
  if (rank < saved_world) {
    EXPECT_EQ(loaded.rng, MakeState(rank, saved_world, kShardedNumel, 1, false).state.rng);
  } else {
    EXPECT_TRUE(loaded.rng.empty());
  }
}

TEST(Crc32cTest, KnownValueAndFastEqualsPortable) {
  const char text[] = "123456789";
  EXPECT_EQ(internal::Crc32c(text, 9), 0xE3069283u);
  const auto bytes = PatternBytes(100003, 7);
  for (std::size_t size : {0, 1, 7, 8, 9, 4095, 100003}) {
    EXPECT_EQ(internal::Crc32cExtend(0, bytes.data(), size),
              internal::Crc32cExtendPortable(0, bytes.data(), size))
        << size;
  }
  const std::uint32_t half = internal::Crc32c(bytes.data(), 500);
  EXPECT_EQ(internal::Crc32cExtend(half, bytes.data() + 500, 700),
            internal::Crc32c(bytes.data(), 1200));
}

TEST(CheckpointRoundTrip, OneProcessEveryDtypeAndTheRestOfTheState) {
  ScratchDir dir;
  auto ckpt = Checkpointer::Open(dir.str(), nullptr, SyncOptions());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  const OwnedState saved = MakeState(0, 1, kShardedNumel, 1, false);
  ASSERT_TRUE((*ckpt)->Save(10, saved.state).ok());

  OwnedState into = MakeState(0, 1, kShardedNumel, 1, true);
  auto loaded = (*ckpt)->LoadLatest(into.state);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  EXPECT_EQ(loaded->world_size, 1);
  EXPECT_EQ(loaded->path, dir / "step-10");
  ExpectTensorsEqual(saved, into);
  ExpectRestOfState(*loaded, saved, 0, 1);

  EXPECT_TRUE(VerifyCheckpoint(dir / "step-10").ok());
  auto contents = InspectCheckpoint(dir / "step-10");
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->tensors.size(), saved.tensors.size());
  EXPECT_EQ(contents->optimizer_step, saved.state.optimizer->step);
  EXPECT_EQ(contents->metadata, saved.state.metadata);
  EXPECT_EQ(contents->rng_names, (std::vector<std::string>{"numpy/global", "torch"}));
  for (const CheckpointTensorInfo& t : contents->tensors) {
    if (t.name == "embedding") {
      EXPECT_EQ(t.shape, (std::vector<std::uint64_t>{250, 4}));
      EXPECT_FALSE(t.replicated);
    }
    if (t.name == "bias") {
      EXPECT_EQ(t.shape, (std::vector<std::uint64_t>{7}));
    }
  }
  EXPECT_EQ(ReadText(dir / "latest"), "step-10\n");
}

TEST(CheckpointRoundTrip, FourRanksThenTwoAndThreeRanks) {
  ScratchDir dir;
  std::mutex mutex;
  std::set<std::string> files;
  OnRanks(4, [&](int rank, Communicator* comm) {
    auto ckpt = Checkpointer::Open(dir.str(), comm, SyncOptions());
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    const OwnedState saved = MakeState(rank, 4, kShardedNumel, 1, false);
    ASSERT_TRUE((*ckpt)->Save(7, saved.state).ok());
    OwnedState into = MakeState(rank, 4, kShardedNumel, 1, true);
    auto loaded = (*ckpt)->LoadLatest(into.state);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ExpectTensorsEqual(saved, into);
    ExpectRestOfState(*loaded, saved, rank, 4);
  });
  // Replicated tensors are spread: more than one rank wrote some.
  auto contents = InspectCheckpoint(dir / "step-7");
  ASSERT_TRUE(contents.ok()) << contents.status();
  for (const auto& t : contents->tensors) files.insert(t.files.begin(), t.files.end());
  EXPECT_GT(files.size(), 2u);
  EXPECT_EQ(contents->info.world_size, 4);

  for (int world : {2, 3}) {
    OnRanks(world, [&](int rank, Communicator* comm) {
      auto ckpt = Checkpointer::Open(dir.str(), comm, SyncOptions());
      ASSERT_TRUE(ckpt.ok()) << ckpt.status();
      OwnedState into = MakeState(rank, world, kShardedNumel, 1, true);
      auto loaded = (*ckpt)->Load(7, into.state);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      EXPECT_EQ(loaded->world_size, 4);
      ExpectTensorsEqual(MakeState(rank, world, kShardedNumel, 1, false), into);
      ExpectRestOfState(*loaded, MakeState(rank, world, kShardedNumel, 1, false), rank, 4);
    });
  }
}

TEST(CheckpointRoundTrip, AsyncWritesTheSameFilesAsSync) {
  for (std::uint64_t budget : {std::uint64_t{1} << 30, std::uint64_t{600}}) {
    ScratchDir sync_dir, async_dir;
    OnRanks(2, [&](int rank, Communicator* comm) {
      const OwnedState saved = MakeState(rank, 2, kShardedNumel, 1, false);
      for (bool async : {false, true}) {
        CheckpointOptions options;
        options.async = async;
        options.memory_budget_bytes = budget;
        auto ckpt = Checkpointer::Open(async ? async_dir.str() : sync_dir.str(), comm, options);
        ASSERT_TRUE(ckpt.ok()) << ckpt.status();
        ASSERT_TRUE((*ckpt)->Save(3, saved.state).ok());
        ASSERT_TRUE((*ckpt)->WaitForSave().ok());
        OwnedState into = MakeState(rank, 2, kShardedNumel, 1, true);
        auto loaded = (*ckpt)->LoadLatest(into.state);
        ASSERT_TRUE(loaded.ok()) << loaded.status();
        ExpectTensorsEqual(saved, into);
      }
    });
    const std::string a = sync_dir / "step-3", b = async_dir / "step-3";
    const auto names = DirEntries(a);
    EXPECT_EQ(names, DirEntries(b));
    if (budget < 1000) {
      EXPECT_GT(names.size(), 3u) << "a small budget writes in waves";
    }
    for (const std::string& name : names) {
      std::string x = ReadText(a + "/" + name), y = ReadText(b + "/" + name);
      if (name == "manifest.json") {  // the same except the time
        auto drop_created = [](std::string text) {
          const auto at = text.find("\"created\"");
          return text.erase(at, text.find('\n', at) - at);
        };
        x = drop_created(x);
        y = drop_created(y);
      }
      EXPECT_TRUE(x == y) << name << " differs between sync and async (budget " << budget << ")";
    }
  }
}

TEST(CheckpointRoundTrip, AsyncSaveIsASnapshotAndLeavesTheCallersCommunicatorFree) {
  ScratchDir dir;
  OnRanks(4, [&](int rank, Communicator* comm) {
    auto ckpt = Checkpointer::Open(dir.str(), comm);  // async by default
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    OwnedState state = MakeState(rank, 4, kShardedNumel, 1, false);
    const OwnedState expected = state;
    ASSERT_TRUE((*ckpt)->Save(1, state.state).ok());
    // The training loop goes on: it changes its tensors and issues its own collectives while
    // the save is written.
    for (OwnedTensor& t : state.tensors) std::fill(t.bytes.begin(), t.bytes.end(), std::byte{7});
    for (int i = 0; i < 20; ++i) {
      std::int64_t value = rank;
      TensorView view{&value, DType::kInt64, 1};
      ASSERT_TRUE(comm->AllReduce(view, ReduceOp::kSum)->Wait().ok());
      EXPECT_EQ(value, 6);
    }
    ASSERT_TRUE((*ckpt)->WaitForSave().ok());
    OwnedState into = MakeState(rank, 4, kShardedNumel, 1, true);
    auto loaded = (*ckpt)->LoadLatest(into.state);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ExpectTensorsEqual(expected, into);
  });
}

TEST(CheckpointRoundTrip, H5dumpReadsTheFiles) {
  if (std::system("command -v h5dump > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "h5dump not installed (Debian package hdf5-tools)";
  }
  ScratchDir dir;
  auto ckpt = Checkpointer::Open(dir.str(), nullptr, SyncOptions());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  ASSERT_TRUE((*ckpt)->Save(1, MakeState(0, 1, kShardedNumel, 1, false).state).ok());
  const std::string out = dir / "dump.txt";
  const std::string command = "h5dump -A " + dir.str() + "/step-1/rank-0.h5 > " + out + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << ReadText(out);
  const std::string dump = ReadText(out);
  EXPECT_NE(dump.find("DATASET \"float16\""), std::string::npos) << dump;
  EXPECT_NE(dump.find("H5T_IEEE_F32LE"), std::string::npos);
  EXPECT_NE(dump.find("\"bfloat16\""), std::string::npos);
  EXPECT_NE(dump.find("ATTRIBUTE \"shape\""), std::string::npos);
  EXPECT_NE(dump.find("GROUP \"optimizer\""), std::string::npos);
  EXPECT_NE(dump.find("GROUP \"rng\""), std::string::npos);
  const std::string data_command =
      "h5dump -d /tensors/bias " + dir.str() + "/step-1/rank-0.h5 > " + out + " 2>&1";
  ASSERT_EQ(std::system(data_command.c_str()), 0) << ReadText(out);
  EXPECT_NE(ReadText(out).find("DATA {"), std::string::npos) << ReadText(out);
}

// h5py (Debian python3-h5py) reads a checkpoint's tensors with their dtypes and shapes.
TEST(CheckpointRoundTrip, H5pyReadsTheTensors) {
  if (std::system("/usr/bin/python3 -c 'import h5py' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "h5py not installed (Debian package python3-h5py)";
  }
  ScratchDir dir;
  auto ckpt = Checkpointer::Open(dir.str(), nullptr, SyncOptions());
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  std::vector<float> weights(12);
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 0.5f * static_cast<float>(i);
  std::vector<std::int64_t> counts = {3, -4, 5};
  std::vector<std::uint16_t> halves = {0x3c00, 0x4000, 0xc200};  // 1, 2, -3 in float16
  CheckpointState state;
  CheckpointTensor w;
  w.name = "layer/w";
  w.data = TensorView{weights.data(), DType::kFloat32, weights.size()};
  w.shape = {4, 3};
  CheckpointTensor c;
  c.name = "counts";
  c.data = TensorView{counts.data(), DType::kInt64, counts.size()};
  CheckpointTensor h;
  h.name = "half";
  h.data = TensorView{halves.data(), DType::kFloat16, halves.size()};
  state.tensors = {w, c, h};
  ASSERT_TRUE((*ckpt)->Save(1, state).ok());
  const std::string script = dir / "read.py";
  {
    std::ofstream py(script);
    py << "import h5py, sys\n"
          "f = h5py.File(sys.argv[1], 'r')\n"
          "for name in ['tensors/layer/w', 'tensors/counts', 'tensors/half']:\n"
          "    d = f[name]\n"
          "    print(name, d.dtype, d.shape, float(d[()].sum()))\n";
  }
  const std::string out = dir / "h5py.txt";
  std::string files;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "step-1")) {
    if (entry.path().extension() == ".h5") files = entry.path().string();
  }
  const std::string command = "/usr/bin/python3 " + script + " " + files + " > " + out + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << ReadText(out);
  const std::string text = ReadText(out);
  EXPECT_NE(text.find("tensors/layer/w float32 (4, 3) 33.0"), std::string::npos) << text;
  EXPECT_NE(text.find("tensors/counts int64 (3,) 4.0"), std::string::npos) << text;
  EXPECT_NE(text.find("tensors/half float16 (3,) 0.0"), std::string::npos) << text;
}

}  // namespace
}  // namespace train::testing
