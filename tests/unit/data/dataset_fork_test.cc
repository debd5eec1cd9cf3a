// fork(): a child opens its own Dataset and reads, also when the parent was reading in the
// background at the moment of the fork; the parent's Dataset refuses to work in the child.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../../sanitizer_build.h"
#include "../../scratch_dir.h"
#include "dataset_test_files.h"
#include "train/dataset.h"

namespace train {
namespace {

// Runs `child` in a forked process and returns its exit code (or 128 + the signal that ended
// it). A hang in the child ends it after 30 s instead of hanging the test.
int RunInChild(const std::function<int()>& child) {
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(30);
    _exit(child());
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// In the child: 0 when a new Dataset reads `indices` as written, else a code saying what failed.
int ReadWithNewDataset(const std::string& path, const std::vector<std::uint64_t>& indices) {
  auto dataset = Dataset::Open(path);
  if (!dataset.ok()) return 10;
  Result<Batch> batch = (*dataset)->Read(indices);
  if (!batch.ok()) return 11;
  for (const char* field : {"images", "labels", "weights"}) {
    if (batch->at(field).bytes != testing::ExpectedRows(field, indices)) return 12;
  }
  return 0;
}

class DatasetForkTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::WriteMnistLike(path_, 4000); }
  testing::ScratchDir dir_;
  std::string path_ = dir_ / "mnist.h5";
};

TEST_F(DatasetForkTest, ChildOpensItsOwnDatasetAndTheParentsOneRefuses) {
  auto parent = Dataset::Open(path_);
  ASSERT_TRUE(parent.ok()) << parent.status();
  ASSERT_TRUE((*parent)->Read({1, 2, 3}).ok());

  const int code = RunInChild([&] {
    Result<Batch> inherited = (*parent)->Read({1});
    if (inherited.ok() || inherited.status().code() != StatusCode::kFailedPrecondition ||
        inherited.status().message().find("open a new Dataset in the child") == std::string::npos) {
      return 20;
    }
    if ((*parent)->Prefetch({1}).code() != StatusCode::kFailedPrecondition) return 21;
    return ReadWithNewDataset(path_, {3999, 0, 17, 17, 2048});
  });
  EXPECT_EQ(code, 0) << "10-12: the child's own Dataset failed; 20-21: the parent's one worked";

  Result<Batch> after = (*parent)->Read({5, 4});  // the parent is unaffected
  ASSERT_TRUE(after.ok()) << after.status();
  testing::ExpectMnistRows(*after, {5, 4});
}

TEST_F(DatasetForkTest, ForkWhileThePrefetchThreadReads) {
  // GCC 12's AddressSanitizer has no fork handler for its allocator: a prefetch thread inside
  // malloc at the fork leaves the allocator's lock held in the child, whose first malloc then
  // waits forever (seen with gdb in SizeClassAllocator64::GetFromAllocator). HDF5's own lock is
  // handled (an atfork handler); the sanitizer's cannot be from here.
  if (TRAIN_TEST_ADDRESS_SANITIZER) {
    GTEST_SKIP() << "AddressSanitizer's allocator is not fork-safe while another thread allocates";
  }
  DatasetOptions options;
  options.prefetch_depth = 6;
  auto parent = Dataset::Open(path_, options);
  ASSERT_TRUE(parent.ok()) << parent.status();
  std::mt19937_64 rng(5);
  std::vector<std::vector<std::uint64_t>> batches(6);
  for (auto& batch : batches) {
    for (int i = 0; i < 512; ++i) batch.push_back(rng() % 4000);
    ASSERT_TRUE((*parent)->Prefetch(batch).ok());
  }
  // The background thread is reading now; fork must wait for HDF5 to be idle, and the child
  // must find it usable (no lock held by a thread that does not exist there).
  const int code = RunInChild([&] {
    const int read = ReadWithNewDataset(path_, batches[0]);
    if (read != 0) return read;
    if ((*parent)->queued() != 0) return 22;
    parent->reset();  // destroying the inherited Dataset must not hang on the missing thread
    return 0;
  });
  EXPECT_EQ(code, 0) << "10-12: the child's own Dataset failed; 128+14: it hung";

  for (const auto& expected : batches) {
    Result<Batch> batch = (*parent)->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    testing::ExpectMnistRows(*batch, expected);
  }
}

}  // namespace
}  // namespace train
