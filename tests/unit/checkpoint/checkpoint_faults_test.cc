// Faults injected through the file layer: a full disk, a failed fsync, short writes. A failed
// save leaves no temporary directory and the previous checkpoint loads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <new>

#include "../../scratch_dir.h"
#include "checkpoint_test_util.h"
#include "checkpointer.h"
#include "file_layer.h"

namespace train::testing {
namespace {

constexpr std::uint64_t kNumel = 4000;

std::unique_ptr<Checkpointer> Open(const std::string& dir, internal::FileSyscalls calls,
                                   bool async) {
  CheckpointOptions options;
  options.async = async;
  auto ckpt = internal::OpenCheckpointer(dir, nullptr, options,
                                         std::make_shared<internal::FileLayer>(std::move(calls)));
  TRAIN_CHECK(ckpt.ok());
  return std::move(*ckpt);
}

// Saves step 1 cleanly, then step 2 through `faulty`; returns step 2's status.
Status SaveThroughFault(const std::string& dir, internal::FileSyscalls faulty, bool async) {
  {
    auto clean = Open(dir, {}, false);
    TRAIN_CHECK_OK(clean->Save(1, MakeState(0, 1, kNumel, 1, false).state));
  }
  auto ckpt = Open(dir, std::move(faulty), async);
  Status status = ckpt->Save(2, MakeState(0, 1, kNumel, 2, false).state);
  if (status.ok()) status = ckpt->WaitForSave();
  return status;
}

void ExpectPreviousLoads(const std::string& dir) {
  EXPECT_EQ(DirEntries(dir), (std::vector<std::string>{"latest", "step-1"}));
  auto ckpt = Open(dir, {}, false);
  OwnedState into = MakeState(0, 1, kNumel, 1, true);
  auto loaded = ckpt->LoadLatest(into.state);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 1);
  EXPECT_EQ(into.tensors.back().bytes, MakeState(0, 1, kNumel, 1, false).tensors.back().bytes);
}

TEST(CheckpointFaults, FullDiskFailsClearlyAndKeepsThePrevious) {
  for (bool async : {false, true}) {
    ScratchDir dir;
    internal::FileSyscalls calls;
    auto written = std::make_shared<std::atomic<std::size_t>>(0);
    calls.write = [written](int fd, const void* data, std::size_t size) -> ssize_t {
      const std::size_t room = 5000 - std::min<std::size_t>(*written, 5000);
      if (room == 0) {
        errno = ENOSPC;
        return -1;
      }
      const ssize_t n = ::write(fd, data, std::min(size, room));
      if (n > 0) *written += static_cast<std::size_t>(n);
      return n;
    };
    const Status status = SaveThroughFault(dir.str(), calls, async);
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status;
    EXPECT_NE(status.message().find("rank-0.h5"), std::string::npos) << status;
    EXPECT_NE(status.message().find("needs"), std::string::npos) << status;
    ExpectPreviousLoads(dir.str());
  }
}

TEST(CheckpointFaults, FailedFsyncFailsTheSave) {
  ScratchDir dir;
  internal::FileSyscalls calls;
  calls.fsync = [](int) {
    errno = EIO;
    return -1;
  };
  const Status status = SaveThroughFault(dir.str(), calls, true);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("fsync"), std::string::npos) << status;
  EXPECT_NE(status.message().find("rank-0.h5"), std::string::npos) << status;
  ExpectPreviousLoads(dir.str());
}

TEST(CheckpointFaults, ShortWritesAreCompleted) {
  ScratchDir dir;
  internal::FileSyscalls calls;
  calls.write = [](int fd, const void* data, std::size_t size) {
    return ::write(fd, data, std::max<std::size_t>(1, size / 3));
  };
  ASSERT_TRUE(SaveThroughFault(dir.str(), calls, false).ok());
  EXPECT_TRUE(VerifyCheckpoint(dir / "step-2").ok());
  auto ckpt = Open(dir.str(), {}, false);
  OwnedState into = MakeState(0, 1, kNumel, 2, true);
  auto loaded = ckpt->LoadLatest(into.state);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 2);
  EXPECT_EQ(into.tensors.back().bytes, MakeState(0, 1, kNumel, 2, false).tensors.back().bytes);
}

TEST(CheckpointFaults, AWriteThatStopsIsAnError) {
  ScratchDir dir;
  internal::FileSyscalls calls;
  auto calls_made = std::make_shared<std::atomic<int>>(0);
  calls.write = [calls_made](int fd, const void* data, std::size_t size) -> ssize_t {
    if ((*calls_made)++ == 0) return ::write(fd, data, size / 2);
    return 0;
  };
  const Status status = SaveThroughFault(dir.str(), calls, false);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot write"), std::string::npos) << status;
  ExpectPreviousLoads(dir.str());
}

TEST(CheckpointFaults, BackgroundFailureIsReportedByTheNextSave) {
  ScratchDir dir;
  internal::FileSyscalls calls;
  calls.fsync = [](int) {
    errno = EIO;
    return -1;
  };
  auto ckpt = Open(dir.str(), calls, true);
  const OwnedState state = MakeState(0, 1, kNumel, 1, false);
  ASSERT_TRUE(ckpt->Save(1, state.state).ok());  // the failure happens in the background
  const Status next = ckpt->Save(2, state.state);
  EXPECT_FALSE(next.ok());
  EXPECT_NE(next.message().find("fsync"), std::string::npos) << next;
  EXPECT_TRUE(ckpt->WaitForSave().ok());  // reported once
  EXPECT_TRUE(DirEntries(dir.str()).empty());
}

// An exception thrown under a save (here by the write itself: out of memory in a library) is
// the save's error, in the caller's thread and in the background writer alike; the process
// goes on, no temporary directory is left, and the previous checkpoint loads.
TEST(CheckpointFaults, AnExceptionUnderASaveIsItsErrorNotTheEnd) {
  for (bool async : {false, true}) {
    ScratchDir dir;
    internal::FileSyscalls calls;
    calls.write = [](int, const void*, std::size_t) -> ssize_t { throw std::bad_alloc(); };
    const Status status = SaveThroughFault(dir.str(), calls, async);
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << "async " << async << ": " << status;
    EXPECT_NE(status.message().find("out of memory"), std::string::npos) << status;
    ExpectPreviousLoads(dir.str());
  }
}

}  // namespace
}  // namespace train::testing
