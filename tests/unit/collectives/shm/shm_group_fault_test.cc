// The shared-memory group when things go wrong: a member that never calls (named when the op
// times out), a member killed mid-op (UNAVAILABLE long before the timeout), a member that
// aborts (the others stop at once), members that never join; and no segment left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "../../../sanitizer_build.h"
#include "cpu/shm_group.h"
#include "shm_test_util.h"

namespace train::testing {
namespace {

using std::chrono::milliseconds;
using ::testing::AllOf;
using ::testing::HasSubstr;

// `ms` milliseconds, longer in a sanitizer build (see kTestTimeScale).
milliseconds Scaled(long long ms) { return milliseconds(ms * kTestTimeScale); }

long long MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
}

// What a member's op returned and how long it took, as one line the body can return.
std::string Expect(const Status& status, StatusCode code, const std::string& needle,
                   long long took_ms, long long at_most_ms) {
  if (status.code() != code || status.message().find(needle) == std::string::npos) {
    return "want " + std::string(StatusCodeName(code)) + " mentioning \"" + needle + "\", got " +
           status.ToString();
  }
  at_most_ms *= kTestTimeScale;
  if (took_ms > at_most_ms) {
    return "took " + std::to_string(took_ms) + " ms (at most " + std::to_string(at_most_ms) +
           "): " + status.ToString();
  }
  return "";
}

// All-reduces `count` floats; 1 << 20 takes the pipelined path, 1024 the one-step one.
Status AllReduceFloats(PeerGroup& group, std::size_t count, OpContext& ctx) {
  std::vector<float> in(count, 1.0f), out(count);
  return group.AllReduce(in.data(), out.data(), count, DType::kFloat32, ReduceOp::kSum, ctx);
}

class ShmGroupFaultTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ShmGroupFaultTest, MemberThatNeverCallsIsNamedWhenTheOpTimesOut) {
  const std::size_t count = GetParam();
  GroupOptions options;
  options.size = 3;
  options.comm_rank_base = 10;
  std::atomic<int> finished{0};
  const auto results = RunThreads(options, [&](int me, PeerGroup& group) -> std::string {
    if (me == 2) {  // never calls; stays until the others gave up
      while (finished.load() < 2) std::this_thread::sleep_for(milliseconds(1));
      return "";
    }
    const auto start = Clock::now();
    auto ctx = MakeContext(CollectiveKind::kAllReduce, Scaled(300));
    const Status status = AllReduceFloats(group, count, ctx);
    const long long took = MillisSince(start);
    ++finished;
    std::string result =
        Expect(status, StatusCode::kDeadlineExceeded, "waiting for ranks 12", took, 300 + 700);
    if (result.empty() && took < Scaled(290).count())
      result = "gave up early, after " + std::to_string(took);
    // The group is broken from now on: the next op fails at once with the same error.
    auto next = MakeContext(CollectiveKind::kBarrier, Scaled(5000));
    const Status again = group.Barrier(next);
    if (result.empty() && again != status) result = "next op: " + again.ToString();
    return result;
  });
  for (int m = 0; m < 3; ++m) EXPECT_EQ(results[m], "") << "member " << m;
}

TEST_P(ShmGroupFaultTest, MemberThatNeverCallsIsNamedAcrossProcesses) {
  const std::size_t count = GetParam();
  GroupOptions options;
  options.size = 3;
  options.comm_rank_base = 10;
  const auto run = RunProcesses(options, [&](int me, PeerGroup& group) -> std::string {
    if (me == 1) {
      std::this_thread::sleep_for(Scaled(800));
      return "";
    }
    const auto start = Clock::now();
    auto ctx = MakeContext(CollectiveKind::kAllReduce, Scaled(300));
    const Status status = AllReduceFloats(group, count, ctx);
    return Expect(status, StatusCode::kDeadlineExceeded, "waiting for ranks 11", MillisSince(start),
                  300 + 700);
  });
  for (int m = 0; m < 3; ++m) EXPECT_EQ(run.results[m], "") << "member " << m;
  EXPECT_THAT(SegmentsOf(run.pids), ::testing::IsEmpty());
}

TEST_P(ShmGroupFaultTest, KilledMemberIsUnavailableLongBeforeTheTimeout) {
  const std::size_t count = GetParam();
  GroupOptions options;
  options.size = 3;
  options.comm_rank_base = 20;
  // Member 2 counts its ops here (a page the forked members share), so the kill lands once
  // the members are in full swing, however slowly they started.
  void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  auto* ops_done = new (page) std::atomic<int>(0);
  const auto run = RunProcesses(
      options,
      [&](int me, PeerGroup& group) -> std::string {
        // Ops back to back until one fails: member 2 is killed in the middle of them.
        for (std::uint64_t seq = 1; seq < 1000000; ++seq) {
          const auto start = Clock::now();
          auto ctx = MakeContext(CollectiveKind::kAllReduce, milliseconds(20000), nullptr, seq);
          const Status status = AllReduceFloats(group, count, ctx);
          if (status.ok()) {
            if (me == 2) ops_done->fetch_add(1);
            continue;
          }
          return Expect(status, StatusCode::kUnavailable, "rank 22 (pid", MillisSince(start), 2000);
        }
        return me == 2 ? "member 2 was not killed" : "no op failed";
      },
      std::chrono::seconds(30),
      [&](const std::vector<pid_t>& pids) {
        const auto until = Clock::now() + std::chrono::seconds(10);
        while (ops_done->load() < 5 && Clock::now() < until) {
          std::this_thread::sleep_for(milliseconds(1));
        }
        std::this_thread::sleep_for(milliseconds(20));
        ::kill(pids[2], SIGKILL);
      });
  ::munmap(page, 4096);
  EXPECT_EQ(run.results[0], "");
  EXPECT_EQ(run.results[1], "");
  EXPECT_THAT(run.results[2], HasSubstr("did not report")) << "member 2 was killed";
  EXPECT_THAT(SegmentsOf(run.pids), ::testing::IsEmpty());
}

TEST_P(ShmGroupFaultTest, AbortingMemberStopsTheOthersPromptly) {
  const std::size_t count = GetParam();
  GroupOptions options;
  options.size = 3;
  options.comm_rank_base = 30;
  std::atomic<bool> abort_member_2{false};
  std::thread timer([&] {
    std::this_thread::sleep_for(Scaled(100));
    abort_member_2 = true;
  });
  const auto results = RunThreads(options, [&](int me, PeerGroup& group) -> std::string {
    if (me == 1) std::this_thread::sleep_for(Scaled(300));  // arrives after the abort
    const auto start = Clock::now();
    auto ctx = MakeContext(CollectiveKind::kAllReduce, milliseconds(20000),
                           me == 2 ? &abort_member_2 : nullptr);
    const Status status = AllReduceFloats(group, count, ctx);
    const long long took = MillisSince(start);
    if (me == 2) return Expect(status, StatusCode::kAborted, "was aborted", took, 1000);
    return Expect(status, StatusCode::kAborted, "rank 32 aborted", took, me == 1 ? 500 : 1000);
  });
  timer.join();
  for (int m = 0; m < 3; ++m) EXPECT_EQ(results[m], "") << "member " << m;
}

TEST_P(ShmGroupFaultTest, AbortReachesOtherProcesses) {
  const std::size_t count = GetParam();
  GroupOptions options;
  options.size = 3;
  options.comm_rank_base = 40;
  const auto run = RunProcesses(options, [&](int me, PeerGroup& group) -> std::string {
    if (me == 2) {  // never calls, so the others wait until member 1 aborts
      std::this_thread::sleep_for(Scaled(1000));
      return "";
    }
    std::atomic<bool> aborted{false};
    std::thread timer([&] {
      if (me == 0) return;
      std::this_thread::sleep_for(Scaled(150));
      aborted = true;
    });
    const auto start = Clock::now();
    auto ctx = MakeContext(CollectiveKind::kAllReduce, milliseconds(20000), &aborted);
    const Status status = AllReduceFloats(group, count, ctx);
    timer.join();
    const long long took = MillisSince(start);
    if (me == 1) return Expect(status, StatusCode::kAborted, "was aborted", took, 1000);
    return Expect(status, StatusCode::kAborted, "rank 41 aborted", took, 1000);
  });
  for (int m = 0; m < 3; ++m) EXPECT_EQ(run.results[m], "") << "member " << m;
}

TEST_P(ShmGroupFaultTest, MemberThatDestroysItsGroupIsUnavailableAtOnce) {
  const std::size_t count = GetParam();
  GroupOptions options;
  options.size = 3;
  options.comm_rank_base = 70;
  const auto results = RunThreads(options, [&](int me, PeerGroup& group) -> std::string {
    if (me == 2) {  // destroys its group (on return) while the others wait in an op
      std::this_thread::sleep_for(Scaled(100));
      return "";
    }
    const auto start = Clock::now();
    auto ctx = MakeContext(CollectiveKind::kAllReduce, milliseconds(20000));
    const Status status = AllReduceFloats(group, count, ctx);
    return Expect(status, StatusCode::kUnavailable, "rank 72 closed its communicator",
                  MillisSince(start), 1000);
  });
  for (int m = 0; m < 3; ++m) EXPECT_EQ(results[m], "") << "member " << m;
}

INSTANTIATE_TEST_SUITE_P(MessageSizes, ShmGroupFaultTest,
                         ::testing::Values(std::size_t{1024}, std::size_t{1} << 20),
                         [](const auto& test) {
                           return test.param > 4096 ? std::string("Pipelined")
                                                    : std::string("OneStep");
                         });

TEST(ShmGroupBootstrapTest, CreatorNamesMembersThatNeverAttachAndRemovesTheSegment) {
  auto store = NewInMemoryStore();
  GroupOptions options;
  options.size = 3;
  options.comm_rank_base = 50;
  options.join_timeout = Scaled(200);
  const auto start = Clock::now();
  auto group = internal::CreateShmGroup(MakeConfig(options, store.get(), 0));
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(group.status().message(), AllOf(HasSubstr("rank 51, rank 52"), HasSubstr("attach")));
  EXPECT_LT(MillisSince(start), Scaled(1000).count());
  EXPECT_THAT(SegmentsOf({::getpid()}), ::testing::IsEmpty());
}

TEST(ShmGroupBootstrapTest, MemberNamesACreatorThatNeverPublishes) {
  auto store = NewInMemoryStore();
  GroupOptions options;
  options.size = 2;
  options.comm_rank_base = 60;
  options.join_timeout = Scaled(200);
  auto group = internal::CreateShmGroup(MakeConfig(options, store.get(), 1));
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(group.status().message(), HasSubstr("rank 60"));
}

TEST(ShmGroupBootstrapTest, SegmentOfACreatorThatDiedBeforeTheGroupFormedIsRemoved) {
  // A creator killed while it waits for the others leaves its segment's name behind...
  const pid_t creator = ::fork();
  if (creator == 0) {
    auto store = NewInMemoryStore();
    GroupOptions options;
    options.join_timeout = milliseconds(30000);
    (void)internal::CreateShmGroup(MakeConfig(options, store.get(), 0));
    ::_exit(0);
  }
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (SegmentsOf({creator}).empty() && Clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ::kill(creator, SIGKILL);
  ::waitpid(creator, nullptr, 0);
  ASSERT_EQ(SegmentsOf({creator}).size(), 1u);
  // ...which the next group created in this pid namespace removes.
  GroupOptions options;
  const auto results = RunThreads(options, [](int, PeerGroup&) { return std::string(); });
  EXPECT_EQ(results, std::vector<std::string>(2, ""));
  EXPECT_THAT(SegmentsOf({creator}), ::testing::IsEmpty());
}

TEST(ShmGroupBootstrapTest, SegmentIsUnlinkedOnceEveryMemberAttached) {
  GroupOptions options;
  options.size = 4;
  const auto results = RunThreads(options, [](int, PeerGroup& group) -> std::string {
    // Everyone attached: the name is gone already, though the group is alive and works.
    if (!SegmentsOf({::getpid()}).empty()) return "segment still in /dev/shm";
    auto ctx = MakeContext(CollectiveKind::kBarrier, Scaled(10000));
    const Status status = group.Barrier(ctx);
    return status.ok() ? "" : status.ToString();
  });
  for (int m = 0; m < options.size; ++m) EXPECT_EQ(results[m], "") << "member " << m;
  EXPECT_THAT(SegmentsOf({::getpid()}), ::testing::IsEmpty());
}

TEST(ShmGroupBootstrapTest, OpsRefuseAvgAndRootsOutsideTheGroup) {
  GroupOptions options;
  options.size = 2;
  const auto results = RunThreads(options, [](int, PeerGroup& group) -> std::string {
    float x = 1;
    auto ctx = MakeContext(CollectiveKind::kAllReduce, Scaled(10000));
    Status status = group.AllReduce(&x, &x, 1, DType::kFloat32, ReduceOp::kAvg, ctx);
    if (status.code() != StatusCode::kInvalidArgument) return "avg: " + status.ToString();
    status = group.Broadcast(&x, 4, 2, ctx);
    if (status.code() != StatusCode::kInvalidArgument) return "root: " + status.ToString();
    status = group.AllReduce(&x, &x, 1, DType::kFloat32, ReduceOp::kMax, ctx);
    return status.ok() ? "" : "still usable: " + status.ToString();
  });
  for (int m = 0; m < options.size; ++m) EXPECT_EQ(results[m], "") << "member " << m;
}

}  // namespace
}  // namespace train::testing
