// Which thread runs an op, in what order, and what an abort does to the ops not yet run.
#include "common/op_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "../../../scratch_dir.h"
#include "common/op_ledger.h"
#include "directory_store.h"

namespace train::internal {
namespace {

using namespace std::chrono_literals;

class OpExecutorTest : public ::testing::Test {
 protected:
  OpExecutorTest()
      : store_(testing::NewDirectoryStore(directory_.str())),
        ledger_(store_.get(), "executor", 0, 1),
        executor_(&ledger_, "communicator \"executor\" (rank 0)") {
    executor_.Start();
  }

  // Submits an op whose body records the thread it ran on.
  std::shared_ptr<Work> SubmitRecording(bool small, std::thread::id* ran_on) {
    OpRecord op{CollectiveKind::kAllReduce, ReduceOp::kSum, DType::kFloat32, small ? 1u : 1u << 20};
    return executor_.Submit(
        op, 10s,
        [ran_on](OpContext&) {
          *ran_on = std::this_thread::get_id();
          return Status::Ok();
        },
        [] {}, small);
  }

  // Polls `flag` for up to 5 s (the test does not wait for the op, so as not to run it).
  static bool BecomesTrue(const std::atomic<bool>& flag) {
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (!flag && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100us);
    return flag;
  }

  testing::ScratchDir directory_;
  std::unique_ptr<Store> store_;
  OpLedger ledger_;
  OpExecutor executor_;
};

// A small op costs no thread hand-off: no wake-up of the progress thread, no wake-up of the
// waiter. Every one of many runs on the thread that waits for it.
TEST_F(OpExecutorTest, ASmallOpIssuedWhileIdleRunsOnTheThreadThatWaits) {
  int elsewhere = 0;
  for (int i = 0; i < 2000; ++i) {
    std::thread::id ran_on;
    ASSERT_TRUE(SubmitRecording(/*small=*/true, &ran_on)->Wait().ok());
    if (ran_on != std::this_thread::get_id()) ++elsewhere;
  }
  EXPECT_EQ(elsewhere, 0) << "small ops run by the progress thread instead of the waiter";
}

// A large op starts on the progress thread at once, so that the caller overlaps it with its
// own work.
TEST_F(OpExecutorTest, ALargeOpRunsWithoutBeingWaitedFor) {
  std::atomic<bool> ran{false};
  std::thread::id ran_on;
  OpRecord op{CollectiveKind::kAllReduce, ReduceOp::kSum, DType::kFloat32, 1u << 20};
  auto work = executor_.Submit(
      op, 10s,
      [&](OpContext&) {
        ran_on = std::this_thread::get_id();
        ran = true;
        return Status::Ok();
      },
      [] {}, /*small=*/false);
  ASSERT_TRUE(BecomesTrue(ran));
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(work->Wait().ok());
}

// Nobody waits: the progress thread takes the small op within a few monitor ticks.
TEST_F(OpExecutorTest, ASmallOpNobodyWaitsForStillRuns) {
  std::atomic<bool> ran{false};
  OpRecord op{CollectiveKind::kBarrier, ReduceOp::kSum, DType::kUInt8, 0};
  auto work = executor_.Submit(
      op, 10s,
      [&ran](OpContext&) {
        ran = true;
        return Status::Ok();
      },
      [] {}, /*small=*/true);
  EXPECT_TRUE(BecomesTrue(ran));
  EXPECT_TRUE(work->Wait().ok());
}

// Ops run in issue order whichever thread runs them; a Done() poll does not reorder them.
TEST_F(OpExecutorTest, OpsRunInIssueOrder) {
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::shared_ptr<Work>> works;
  for (int i = 0; i < 50; ++i) {
    OpRecord op{CollectiveKind::kAllReduce, ReduceOp::kSum, DType::kFloat32,
                i % 3 == 0 ? 1u << 20 : 1u};
    works.push_back(executor_.Submit(
        op, 10s,
        [&, i](OpContext&) {
          std::lock_guard lock(mu);
          order.push_back(i);
          return Status::Ok();
        },
        [] {}, i % 3 != 0));
    if (i % 5 == 0) works.back()->Done();
  }
  for (auto& work : works) ASSERT_TRUE(work->Wait().ok());
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
}

TEST_F(OpExecutorTest, AnAbortFailsTheOpsNotYetRun) {
  std::atomic<bool> release{false};
  OpRecord op{CollectiveKind::kAllReduce, ReduceOp::kSum, DType::kFloat32, 1u << 20};
  auto running = executor_.Submit(
      op, 10s,
      [&release](OpContext& ctx) {
        while (!release && !ctx.Aborted()) std::this_thread::sleep_for(1ms);
        return ctx.Aborted() ? AbortedError("stopped") : Status::Ok();
      },
      [] {}, /*small=*/false);
  std::thread::id ran_on;
  auto queued = SubmitRecording(/*small=*/true, &ran_on);
  executor_.Abort("the test aborts");
  EXPECT_EQ(queued->Wait().code(), StatusCode::kAborted);
  EXPECT_EQ(running->Wait().code(), StatusCode::kAborted);
  EXPECT_EQ(ran_on, std::thread::id());
}

}  // namespace
}  // namespace train::internal
