// Damaged and hostile checkpoints, each written into a real checkpoint made by a real save: a
// checkpoint that fails verification is quarantined (renamed aside, never deleted), loading
// falls back to the previous step, the same step can be saved again, and nothing hangs, throws
// or allocates what a manifest's numbers ask for.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "../../sanitizer_build.h"
#include "../../scratch_dir.h"
#include "checkpoint_test_util.h"

namespace train::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::uint64_t kNumel = 64;

// Two float32 tensors of the same size (so that a swapped offset still fits), an optimizer, a
// sampler and an RNG state; every byte depends on `seed`.
struct SmallState {
  std::vector<float> a, b;
  CheckpointState state;
  explicit SmallState(std::uint64_t seed, bool zero = false) : a(kNumel), b(kNumel) {
    for (std::uint64_t i = 0; i < kNumel; ++i) {
      a[i] = zero ? 0.0f : static_cast<float>(seed * 1000 + i);
      b[i] = zero ? 0.0f : -static_cast<float>(seed * 1000 + i);
    }
    state.tensors = {{"a", {a.data(), DType::kFloat32, a.size()}, {8, 8}, true, 0},
                     {"b", {b.data(), DType::kFloat32, b.size()}, {}, true, 0}};
    if (zero) return;
    OptimizerState optimizer;
    optimizer.step = static_cast<std::int64_t>(seed);
    optimizer.names = {"group0/exp_avg", "group0/exp_avg_sq"};
    optimizer.buffers = {PatternBytes(96, seed), PatternBytes(80, seed + 1)};
    state.optimizer = optimizer;
    state.sampler = SamplerState{1, seed};
    state.rng["torch"] = "state " + std::to_string(seed);
  }
};

std::unique_ptr<Checkpointer> OpenSync(const std::string& dir, CheckpointOptions options = {}) {
  options.async = false;
  auto ckpt = Checkpointer::Open(dir, nullptr, options);
  TRAIN_CHECK_OK(ckpt.status().ok() ? Status::Ok() : ckpt.status());
  return std::move(*ckpt);
}

json ReadJson(const std::string& path) { return json::parse(ReadText(path)); }

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

void EditManifest(const std::string& step_dir, const std::function<void(json&)>& edit) {
  json manifest = ReadJson(step_dir + "/manifest.json");
  edit(manifest);
  WriteText(step_dir + "/manifest.json", manifest.dump(1));
}

// The quarantined directories of `dir`.
std::vector<std::string> Quarantined(const std::string& dir) {
  std::vector<std::string> names;
  for (const std::string& name : DirEntries(dir)) {
    if (name.find(".corrupt-") != std::string::npos) names.push_back(name);
  }
  return names;
}

// Steps 40 and 60 of SmallState, then `damage` applied to step-60.
class HostileCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ckpt = OpenSync(dir_.str());
    ASSERT_TRUE(ckpt->Save(40, SmallState(40).state).ok());
    ASSERT_TRUE(ckpt->Save(60, SmallState(60).state).ok());
  }

  std::string Step(int step) const { return dir_.str() + "/step-" + std::to_string(step); }

  // Verification of step-60 fails naming every part of `expected`; then loading falls back to
  // step 40 (its bytes), quarantines step-60, points `latest` at step 40, and step 60 saves
  // again and loads.
  void ExpectFallbackAndQuarantine(const std::vector<std::string>& expected) {
    const Status verify = VerifyCheckpoint(Step(60));
    EXPECT_EQ(verify.code(), StatusCode::kDataLoss) << verify;
    for (const std::string& part : expected) {
      EXPECT_NE(verify.message().find(part), std::string::npos) << part << " not in: " << verify;
    }
    EXPECT_TRUE(VerifyCheckpoint(Step(40)).ok());

    auto ckpt = OpenSync(dir_.str());
    SmallState into(0, true);
    auto loaded = ckpt->LoadLatest(into.state);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->step, 40);
    EXPECT_EQ(into.a, SmallState(40).a);
    EXPECT_EQ(into.b, SmallState(40).b);
    ASSERT_TRUE(loaded->optimizer.has_value());
    EXPECT_EQ(loaded->optimizer->buffers, SmallState(40).state.optimizer->buffers);

    const std::vector<std::string> quarantined = Quarantined(dir_.str());
    ASSERT_EQ(quarantined.size(), 1u) << ::testing::PrintToString(DirEntries(dir_.str()));
    EXPECT_EQ(quarantined[0].rfind("step-60.corrupt-", 0), 0u) << quarantined[0];
    EXPECT_FALSE(fs::exists(Step(60)));
    EXPECT_EQ(ReadText(dir_ / "latest"), "step-40\n");
    auto listed = ListQuarantinedCheckpoints(dir_.str());
    ASSERT_TRUE(listed.ok()) << listed.status();
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].step, 60);
    EXPECT_NE((*listed)[0].reason.find(expected.front()), std::string::npos) << (*listed)[0].reason;

    // Training goes on: the step that was quarantined is saved again.
    ASSERT_TRUE(ckpt->Save(60, SmallState(61).state).ok());
    auto again = ckpt->LoadLatest(into.state);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->step, 60);
    EXPECT_EQ(into.a, SmallState(61).a);
    EXPECT_EQ(Quarantined(dir_.str()).size(), 1u);
  }

  ScratchDir dir_;
};

TEST_F(HostileCheckpoint, FlippedChecksumInTheNewestManifest) {
  EditManifest(Step(60), [](json& m) {
    m["files"][0]["crc32c"] = m["files"][0]["crc32c"].get<std::uint32_t>() ^ 1u;
  });
  ExpectFallbackAndQuarantine({"rank-0.h5", "CRC32C"});
}

TEST_F(HostileCheckpoint, AbsurdOptimizerBufferCount) {
  EditManifest(Step(60),
               [](json& m) { m["optimizer"]["buffers"][0]["count"] = std::uint64_t{1} << 50; });
  ExpectFallbackAndQuarantine({"optimizer.buffers[0].count", "1125899906842624"});
}

TEST_F(HostileCheckpoint, FileNamesOutsideTheStepDirectory) {
  for (const std::string name :
       {"../../outside.h5", "/etc/passwd", "sub/rank-0.h5", "..", "manifest.json"}) {
    SCOPED_TRACE(name);
    const std::string step = Step(60);
    const json original = ReadJson(step + "/manifest.json");
    EditManifest(step, [&](json& m) {
      m["files"][0]["name"] = name;
      for (json& t : m["tensors"]) {
        for (json& p : t["pieces"]) p["file"] = name;
      }
      for (json& b : m["optimizer"]["buffers"]) b["file"] = name;
      for (json& r : m["rng"]) {
        for (json& s : r["states"]) s["file"] = name;
      }
    });
    const Status verify = VerifyCheckpoint(step);
    EXPECT_EQ(verify.code(), StatusCode::kDataLoss) << verify;
    EXPECT_NE(verify.message().find("files[0].name"), std::string::npos) << verify;
    EXPECT_NE(verify.message().find(name), std::string::npos) << verify;
    WriteText(step + "/manifest.json", original.dump(1));
  }
  EditManifest(Step(60), [](json& m) { m["files"][0]["name"] = "../step-40/rank-0.h5"; });
  ExpectFallbackAndQuarantine({"files[0].name", "../step-40/rank-0.h5"});
}

TEST_F(HostileCheckpoint, StepThatDoesNotMatchItsDirectory) {
  for (const json& step : {json(1000000000000000000LL), json(-1), json(40), json("60")}) {
    SCOPED_TRACE(step.dump());
    EditManifest(Step(60), [&](json& m) { m["step"] = step; });
    const Status verify = VerifyCheckpoint(Step(60));
    EXPECT_EQ(verify.code(), StatusCode::kDataLoss) << verify;
    EXPECT_NE(verify.message().find("'step'"), std::string::npos) << verify;
  }
  EditManifest(Step(60), [](json& m) { m["step"] = 1000000000000000000LL; });
  ExpectFallbackAndQuarantine({"'step'", "1000000000000000000", "step-60"});
}

TEST_F(HostileCheckpoint, JsonThatIsNotAManifest) {
  const std::string manifest = Step(60) + "/manifest.json";
  const std::string original = ReadText(manifest);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1, 2, 3]", "must be an object"},
      {"\"manifest\"", "must be an object"},
      {std::string(100, '[') + std::string(100, ']'), "deeper"},
      {"{\"format_version\": 1", "unreadable manifest"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text.substr(0, 40));
    WriteText(manifest, text);
    const Status verify = VerifyCheckpoint(Step(60));
    EXPECT_EQ(verify.code(), StatusCode::kDataLoss) << verify;
    EXPECT_NE(verify.message().find(expected), std::string::npos) << verify;
  }
  WriteText(manifest, original);
  EditManifest(Step(60), [](json& m) { m["world_size"] = "two"; });
  ExpectFallbackAndQuarantine({"'world_size'", "must be an integer", "two"});
}

TEST_F(HostileCheckpoint, FieldsOfTheWrongTypeOrOutOfBounds) {
  const std::string manifest = Step(60) + "/manifest.json";
  const std::string original = ReadText(manifest);
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& m) { m["files"][0]["crc32c"] = std::uint64_t{1} << 40; }, "files[0].crc32c"},
      {[](json& m) { m["files"][0]["bytes"] = -5; }, "files[0].bytes"},
      {[](json& m) {
         m["tensors"][0]["shape"] = {1u << 31, 1u << 31, 1u << 31};
       },
       "tensors[0].shape"},
      {[](json& m) { m["tensors"][0]["dtype"] = "float128"; }, "float128"},
      {[](json& m) { m["tensors"][0]["replicated"] = 1; }, "tensors[0].replicated"},
      {[](json& m) { m["tensors"][1]["name"] = m["tensors"][0]["name"]; }, "tensors[1].name"},
      {[](json& m) { m["tensors"][0]["pieces"][0]["offset"] = 1; }, "tensors[0].pieces"},
      {[](json& m) { m["tensors"][0]["pieces"][0]["dataset"] = "tensors/b"; }, "tensors/b"},
      {[](json& m) { m["job_id"] = std::string(100000, 'x'); }, "100000 bytes long"},
      {[](json& m) { m["rng"][0]["rank"] = 7; }, "rng[0].rank"},
      {[](json& m) { m["optimizer"]["buffers"][1]["name"] = "group0/exp_avg"; },
       "optimizer.buffers[1].name"},
      {[](json& m) { m.erase("files"); }, "'files' is missing"},
      {[](json& m) { m["metadata"] = json::array(); }, "'metadata'"},
  };
  for (const auto& [edit, expected] : cases) {
    SCOPED_TRACE(expected);
    EditManifest(Step(60), edit);
    const Status verify = VerifyCheckpoint(Step(60));
    EXPECT_EQ(verify.code(), StatusCode::kDataLoss) << verify;
    EXPECT_NE(verify.message().find(expected), std::string::npos) << verify;
    WriteText(manifest, original);
  }
  EXPECT_TRUE(VerifyCheckpoint(Step(60)).ok());
}

// Offsets that still lie inside the file and checksum fine, but point at another dataset's
// bytes: only the HDF5 file itself tells.
TEST_F(HostileCheckpoint, SwappedDatasetOffsetsAreCaughtAgainstTheFile) {
  EditManifest(Step(60), [](json& m) {
    json& a = m["tensors"][0]["pieces"][0]["byte_offset"];
    json& b = m["tensors"][1]["pieces"][0]["byte_offset"];
    std::swap(a, b);
  });
  ExpectFallbackAndQuarantine({"tensors[0].pieces[0]", "byte_offset"});
}

TEST_F(HostileCheckpoint, SymlinkToAFileOutsideIsRefused) {
  const std::string outside =
      dir_.str() + "/../" + fs::path(dir_.str()).filename().string() + "-outside.h5";
  fs::copy_file(Step(60) + "/rank-0.h5", outside);
  fs::remove(Step(60) + "/rank-0.h5");
  fs::create_symlink(outside, Step(60) + "/rank-0.h5");
  ExpectFallbackAndQuarantine({"rank-0.h5", "symbolic link"});
  fs::remove(outside);
}

TEST_F(HostileCheckpoint, DirectoryInPlaceOfAFile) {
  fs::remove(Step(60) + "/rank-0.h5");
  fs::create_directory(Step(60) + "/rank-0.h5");
  ExpectFallbackAndQuarantine({"rank-0.h5", "a directory"});
}

// Runs `body` in a child process killed after 30 s, so that a hang fails the test instead of
// stopping the run; `limit_bytes` > 0 caps the child's address space. The child's exit code
// (body's return) is returned; a signal is -signal.
int InChild(const std::function<int()>& body, rlim_t limit_bytes = 0) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(30);
    if (limit_bytes > 0) {
      const rlimit limit{limit_bytes, limit_bytes};
      if (::setrlimit(RLIMIT_AS, &limit) != 0) ::_exit(90);
    }
    int code = 91;
    try {
      code = body();
    } catch (...) {
      code = 92;
    }
    ::_exit(code);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

TEST_F(HostileCheckpoint, FifoInPlaceOfAFileDoesNotHang) {
  fs::remove(Step(60) + "/rank-0.h5");
  ASSERT_EQ(::mkfifo((Step(60) + "/rank-0.h5").c_str(), 0644), 0);
  const std::string step = Step(60);
  const std::string dir = dir_.str();
  EXPECT_EQ(InChild([&] {
              const Status verify = VerifyCheckpoint(step);
              if (verify.message().find("FIFO") == std::string::npos) return 1;
              auto ckpt = OpenSync(dir);
              SmallState into(0, true);
              auto loaded = ckpt->LoadLatest(into.state);
              return loaded.ok() && loaded->step == 40 ? 0 : 2;
            }),
            0);
  // The child quarantined it; the FIFO was never opened.
  ASSERT_EQ(Quarantined(dir).size(), 1u);
  EXPECT_TRUE(fs::is_fifo(dir + "/" + Quarantined(dir)[0] + "/rank-0.h5"));
  auto ckpt = OpenSync(dir);
  EXPECT_TRUE(ckpt->Save(60, SmallState(60).state).ok());
}

// A count within bounds but larger than the file, with the file's listed size raised to
// match: refused by looking at the file, before a buffer of that size is allocated (a load
// capped at 1 GiB of address space would otherwise die of std::bad_alloc).
TEST_F(HostileCheckpoint, CountsBeyondTheFilesAllocateNothing) {
  TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN();
  EditManifest(Step(60), [](json& m) {
    // Past the real file's end (a few KiB), so that no other piece overlaps.
    const std::uint64_t at = std::uint64_t{1} << 20;
    const std::uint64_t huge = std::uint64_t{3} << 30;
    for (json& f : m["files"]) f["bytes"] = at + huge;
    m["optimizer"]["buffers"][0]["count"] = huge;
    m["optimizer"]["buffers"][0]["byte_offset"] = at;
    m["optimizer"]["buffers"][1]["count"] = 0;
  });
  const std::string dir = dir_.str();
  EXPECT_EQ(InChild(
                [&] {
                  auto ckpt = OpenSync(dir);
                  SmallState into(0, true);
                  auto loaded = ckpt->LoadLatest(into.state);
                  return loaded.ok() && loaded->step == 40 ? 0 : 1;
                },
                rlim_t{1} << 30),
            0);
  ASSERT_EQ(Quarantined(dir).size(), 1u);
  auto listed = ListQuarantinedCheckpoints(dir);
  ASSERT_TRUE(listed.ok());
  EXPECT_NE((*listed)[0].reason.find("bytes; the manifest says"), std::string::npos)
      << (*listed)[0].reason;
}

TEST_F(HostileCheckpoint, RetentionNeitherCountsNorDeletesQuarantinedSteps) {
  EditManifest(Step(60), [](json& m) { m["step"] = 61; });
  CheckpointOptions options;
  options.keep_last = 2;
  auto ckpt = OpenSync(dir_.str(), options);
  SmallState into(0, true);
  ASSERT_EQ(ckpt->LoadLatest(into.state)->step, 40);
  ASSERT_TRUE(ckpt->Save(60, SmallState(60).state).ok());
  ASSERT_TRUE(ckpt->Save(80, SmallState(80).state).ok());
  ASSERT_TRUE(ckpt->Save(100, SmallState(100).state).ok());
  const std::vector<std::string> entries = DirEntries(dir_.str());
  EXPECT_EQ(Quarantined(dir_.str()).size(), 1u) << ::testing::PrintToString(entries);
  EXPECT_FALSE(fs::exists(Step(40)));
  EXPECT_FALSE(fs::exists(Step(60)));
  EXPECT_TRUE(fs::exists(Step(80)));
  EXPECT_TRUE(fs::exists(Step(100)));
}

// Two ranks: the damage is in rank 1's file (rank 0 may not read it); the ranks agree to skip
// step 60, only rank 0 renames it, both load step 40 and then save step 60 again together.
TEST(HostileCheckpointRanks, DamageInOneRanksFileQuarantinesOnceAndBothGoOn) {
  ScratchDir dir;
  constexpr std::uint64_t kSharded = 4000;
  OnRanks(2, [&](int rank, Communicator* comm) {
    CheckpointOptions options;
    options.async = false;
    auto ckpt = Checkpointer::Open(dir.str(), comm, options);
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    ASSERT_TRUE((*ckpt)->Save(40, MakeState(rank, 2, kSharded, 40, false).state).ok());
    ASSERT_TRUE((*ckpt)->Save(60, MakeState(rank, 2, kSharded, 60, false).state).ok());
  });
  EditManifest(dir / "step-60", [](json& m) {
    for (json& f : m["files"]) {
      if (f["name"] == "rank-1.h5") f["crc32c"] = f["crc32c"].get<std::uint32_t>() ^ 0x10u;
    }
  });
  OnRanks(2, [&](int rank, Communicator* comm) {
    CheckpointOptions options;
    options.async = false;
    auto ckpt = Checkpointer::Open(dir.str(), comm, options);
    ASSERT_TRUE(ckpt.ok()) << ckpt.status();
    OwnedState into = MakeState(rank, 2, kSharded, 0, true);
    auto loaded = (*ckpt)->LoadLatest(into.state);
    ASSERT_TRUE(loaded.ok()) << "rank " << rank << ": " << loaded.status();
    EXPECT_EQ(loaded->step, 40);
    EXPECT_EQ(into.tensors.back().bytes,
              MakeState(rank, 2, kSharded, 40, false).tensors.back().bytes);
    EXPECT_TRUE((*ckpt)->Save(60, MakeState(rank, 2, kSharded, 61, false).state).ok());
  });
  ASSERT_EQ(Quarantined(dir.str()).size(), 1u);
  auto listed = ListQuarantinedCheckpoints(dir.str());
  ASSERT_TRUE(listed.ok());
  EXPECT_NE((*listed)[0].reason.find("rank-1.h5"), std::string::npos) << (*listed)[0].reason;
  EXPECT_TRUE(VerifyCheckpoint(dir / "step-60").ok());
}

}  // namespace
}  // namespace train::testing
