// Faults injected through the OS environment under the file layer: a full disk, a failed
// fsync, short writes, a failed rename, an unreadable directory. A failed save leaves no
// temporary directory and the previous checkpoint loads; nothing is mistaken for a fresh start.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <new>

#include "../../scratch_dir.h"
#include "checkpoint_test_util.h"
#include "checkpointer.h"
#include "file_layer.h"

namespace train::testing {
namespace {

constexpr std::uint64_t kNumel = 4000;

// The real system, but for the calls a test replaces.
struct FaultEnv : internal::OsEnv {
  std::function<ssize_t(int fd, const void* data, std::size_t size)> write;
  std::function<int(int fd)> fsync;
  // Returns the errno to fail with, or 0 to rename.
  std::function<int(const std::string& from, const std::string& to)> rename;
  // Returns the errno to fail with, or 0 to list.
  std::function<int(const std::string& dir)> list_dir;
  // Returns the errno to fail with, or 0 to create.
  std::function<int(const std::string& path)> make_dir;

  ssize_t Write(int fd, const void* data, std::size_t size) override {
    return write ? write(fd, data, size) : OsEnv::Write(fd, data, size);
  }
  int Fsync(int fd) override { return fsync ? fsync(fd) : OsEnv::Fsync(fd); }
  int Rename(const std::string& from, const std::string& to, bool no_replace) override {
    const int error = rename ? rename(from, to) : 0;
    if (error == 0) return OsEnv::Rename(from, to, no_replace);
    errno = error;
    return -1;
  }
  int MakeDir(const std::string& path, mode_t mode) override {
    const int error = make_dir ? make_dir(path) : 0;
    if (error == 0) return OsEnv::MakeDir(path, mode);
    errno = error;
    return -1;
  }
  int ListDir(const std::string& dir, std::vector<internal::DirEntry>* entries) override {
    const int error = list_dir ? list_dir(dir) : 0;
    return error != 0 ? error : OsEnv::ListDir(dir, entries);
  }
};

std::unique_ptr<Checkpointer> Open(const std::string& dir, internal::OsEnv* env, bool async,
                                   int keep_last = 3) {
  CheckpointOptions options;
  options.async = async;
  options.keep_last = keep_last;
  auto ckpt =
      internal::OpenCheckpointer(dir, nullptr, options, std::make_shared<internal::FileLayer>(env));
  TRAIN_CHECK(ckpt.ok());
  return std::move(*ckpt);
}

std::unique_ptr<Checkpointer> Open(const std::string& dir, bool async) {
  return Open(dir, internal::OsEnv::Default(), async);
}

// Saves step 1 cleanly, then step 2 through `faulty`; returns step 2's status.
Status SaveThroughFault(const std::string& dir, FaultEnv* faulty, bool async) {
  {
    auto clean = Open(dir, false);
    TRAIN_CHECK_OK(clean->Save(1, MakeState(0, 1, kNumel, 1, false).state));
  }
  auto ckpt = Open(dir, faulty, async);
  Status status = ckpt->Save(2, MakeState(0, 1, kNumel, 2, false).state);
  if (status.ok()) status = ckpt->WaitForSave();
  return status;
}

void ExpectPreviousLoads(const std::string& dir) {
  EXPECT_EQ(DirEntries(dir), (std::vector<std::string>{"latest", "step-1"}));
  auto ckpt = Open(dir, false);
  OwnedState into = MakeState(0, 1, kNumel, 1, true);
  auto loaded = ckpt->LoadLatest(into.state);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 1);
  EXPECT_EQ(into.tensors.back().bytes, MakeState(0, 1, kNumel, 1, false).tensors.back().bytes);
}

TEST(CheckpointFaults, FullDiskFailsClearlyAndKeepsThePrevious) {
  for (bool async : {false, true}) {
    ScratchDir dir;
    FaultEnv env;
    auto written = std::make_shared<std::atomic<std::size_t>>(0);
    env.write = [written](int fd, const void* data, std::size_t size) -> ssize_t {
      const std::size_t room = 5000 - std::min<std::size_t>(*written, 5000);
      if (room == 0) {
        errno = ENOSPC;
        return -1;
      }
      const ssize_t n = ::write(fd, data, std::min(size, room));
      if (n > 0) *written += static_cast<std::size_t>(n);
      return n;
    };
    const Status status = SaveThroughFault(dir.str(), &env, async);
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status;
    EXPECT_NE(status.message().find("rank-0.h5"), std::string::npos) << status;
    EXPECT_NE(status.message().find("needs"), std::string::npos) << status;
    ExpectPreviousLoads(dir.str());
  }
}

// The disk is full when the save creates its temporary directory: the error names it, and
// the previous checkpoint is untouched.
TEST(CheckpointFaults, ATemporaryDirectoryThatCannotBeCreatedFailsTheSave) {
  for (bool async : {false, true}) {
    ScratchDir dir;
    FaultEnv env;
    env.make_dir = [](const std::string& path) {
      return path.find("step-2") != std::string::npos ? ENOSPC : 0;
    };
    const Status status = SaveThroughFault(dir.str(), &env, async);
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << status;
    EXPECT_NE(status.message().find("cannot create directory"), std::string::npos) << status;
    EXPECT_NE(status.message().find(dir.str()), std::string::npos) << status;
    ExpectPreviousLoads(dir.str());
  }
}

// A checkpoint directory whose parents do not exist yet is made one level at a time.
TEST(CheckpointFaults, MissingParentsAreCreatedThroughTheEnvironment) {
  ScratchDir dir;
  FaultEnv env;
  std::vector<std::string> made;
  env.make_dir = [&made](const std::string& path) {
    made.push_back(path);
    return 0;
  };
  const std::string deep = dir.str() + "/runs/a/ckpt";
  auto ckpt = Open(deep, &env, false);
  ASSERT_TRUE(ckpt->Save(1, MakeState(0, 1, kNumel, 1, false).state).ok());
  ASSERT_GE(made.size(), 3u);
  EXPECT_EQ(made[0], dir.str() + "/runs");
  EXPECT_EQ(made[1], dir.str() + "/runs/a");
  EXPECT_EQ(made[2], deep);
  EXPECT_TRUE(VerifyCheckpoint(deep + "/step-1").ok());
}

TEST(CheckpointFaults, FailedFsyncFailsTheSave) {
  ScratchDir dir;
  FaultEnv env;
  env.fsync = [](int) {
    errno = EIO;
    return -1;
  };
  const Status status = SaveThroughFault(dir.str(), &env, true);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("fsync"), std::string::npos) << status;
  EXPECT_NE(status.message().find("rank-0.h5"), std::string::npos) << status;
  ExpectPreviousLoads(dir.str());
}

TEST(CheckpointFaults, ShortWritesAreCompleted) {
  ScratchDir dir;
  FaultEnv env;
  env.write = [](int fd, const void* data, std::size_t size) {
    return ::write(fd, data, std::max<std::size_t>(1, size / 3));
  };
  ASSERT_TRUE(SaveThroughFault(dir.str(), &env, false).ok());
  EXPECT_TRUE(VerifyCheckpoint(dir / "step-2").ok());
  auto ckpt = Open(dir.str(), false);
  OwnedState into = MakeState(0, 1, kNumel, 2, true);
  auto loaded = ckpt->LoadLatest(into.state);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 2);
  EXPECT_EQ(into.tensors.back().bytes, MakeState(0, 1, kNumel, 2, false).tensors.back().bytes);
}

TEST(CheckpointFaults, AWriteThatStopsIsAnError) {
  ScratchDir dir;
  FaultEnv env;
  auto calls_made = std::make_shared<std::atomic<int>>(0);
  env.write = [calls_made](int fd, const void* data, std::size_t size) -> ssize_t {
    if ((*calls_made)++ == 0) return ::write(fd, data, size / 2);
    return 0;
  };
  const Status status = SaveThroughFault(dir.str(), &env, false);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot write"), std::string::npos) << status;
  ExpectPreviousLoads(dir.str());
}

TEST(CheckpointFaults, BackgroundFailureIsReportedByTheNextSave) {
  ScratchDir dir;
  FaultEnv env;
  env.fsync = [](int) {
    errno = EIO;
    return -1;
  };
  auto ckpt = Open(dir.str(), &env, true);
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
    FaultEnv env;
    env.write = [](int, const void*, std::size_t) -> ssize_t { throw std::bad_alloc(); };
    const Status status = SaveThroughFault(dir.str(), &env, async);
    EXPECT_EQ(status.code(), StatusCode::kResourceExhausted) << "async " << async << ": " << status;
    EXPECT_NE(status.message().find("out of memory"), std::string::npos) << status;
    ExpectPreviousLoads(dir.str());
  }
}

bool EndsWith(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

// The commit is one rename: when it fails, the save fails, its temporary directory goes, and
// nothing new is visible.
TEST(CheckpointFaults, AFailedCommitRenameLeavesThePrevious) {
  for (bool async : {false, true}) {
    ScratchDir dir;
    FaultEnv env;
    env.rename = [](const std::string&, const std::string& to) {
      return EndsWith(to, "/step-2") ? EIO : 0;
    };
    const Status status = SaveThroughFault(dir.str(), &env, async);
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message().find("cannot rename"), std::string::npos) << status;
    EXPECT_NE(status.message().find("step-2"), std::string::npos) << status;
    ExpectPreviousLoads(dir.str());
  }
}

// A checkpoint directory that cannot be listed (permissions, a dead network mount) is an error,
// never "no checkpoints yet": a job must not silently start again from step 0.
TEST(CheckpointFaults, AnUnlistableDirectoryIsAnErrorNotAFreshStart) {
  ScratchDir dir;
  {
    auto clean = Open(dir.str(), false);
    ASSERT_TRUE(clean->Save(1, MakeState(0, 1, kNumel, 1, false).state).ok());
  }
  FaultEnv env;
  auto broken = std::make_shared<std::atomic<bool>>(false);
  env.list_dir = [broken](const std::string&) { return *broken ? EACCES : 0; };
  auto ckpt = Open(dir.str(), &env, false);
  *broken = true;
  OwnedState into = MakeState(0, 1, kNumel, 1, true);
  auto loaded = ckpt->LoadLatest(into.state);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kPermissionDenied) << loaded.status();
  EXPECT_NE(loaded.status().message().find("cannot list directory " + dir.str()), std::string::npos)
      << loaded.status();
  const Status saved = ckpt->Save(2, MakeState(0, 1, kNumel, 2, false).state);
  EXPECT_EQ(saved.code(), StatusCode::kPermissionDenied) << saved;

  // Opening lists the directory too (to remove what crashed saves left).
  FaultEnv refusing;
  refusing.list_dir = [](const std::string&) { return EACCES; };
  auto opened = internal::OpenCheckpointer(dir.str(), nullptr, {},
                                           std::make_shared<internal::FileLayer>(&refusing));
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("cannot list directory"), std::string::npos)
      << opened.status();
  ExpectPreviousLoads(dir.str());
}

// Retention runs after the commit: when it cannot delete an old step, the save still stands,
// the old step stays whole, and the next save deletes it.
TEST(CheckpointFaults, RetentionThatCannotDeleteKeepsTheSaveAndRetriesNextTime) {
  ScratchDir dir;
  FaultEnv env;
  auto failing = std::make_shared<std::atomic<bool>>(true);
  env.rename = [failing](const std::string& from, const std::string&) {
    return *failing && EndsWith(from, "/step-1") ? EIO : 0;
  };
  auto ckpt = Open(dir.str(), &env, false, /*keep_last=*/1);
  ASSERT_TRUE(ckpt->Save(1, MakeState(0, 1, kNumel, 1, false).state).ok());
  ASSERT_TRUE(ckpt->Save(2, MakeState(0, 1, kNumel, 2, false).state).ok());
  EXPECT_EQ(DirEntries(dir.str()), (std::vector<std::string>{"latest", "step-1", "step-2"}));
  EXPECT_TRUE(VerifyCheckpoint(dir / "step-1").ok());
  *failing = false;
  ASSERT_TRUE(ckpt->Save(3, MakeState(0, 1, kNumel, 3, false).state).ok());
  EXPECT_EQ(DirEntries(dir.str()), (std::vector<std::string>{"latest", "step-3"}));
}

}  // namespace
}  // namespace train::testing
