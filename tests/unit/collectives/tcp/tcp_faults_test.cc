// Failures of a TCP group with members as threads: a member that never calls is named by the
// others' DEADLINE_EXCEEDED; a member that aborts or closes its connections stops the others
// with UNAVAILABLE naming it, long before their timeouts; a failed group refuses later ops; the
// bootstrap names a member that never joins and refuses stray or crossed connections.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "cpu/tcp_socket.h"
#include "tcp_test_support.h"

namespace train::internal::tcp_test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr std::chrono::milliseconds kShortTimeout{1500};
// Long enough that a test relying on it would be killed by ctest before it passed.
constexpr std::chrono::minutes kLongTimeout{5};

// Communicator rank of member m in these tests: 10 + m, so errors visibly name ranks.
GroupOptions RankedOptions(const std::string& prefix) {
  GroupOptions options;
  options.key_prefix = prefix;
  options.rank_offset = 10;
  return options;
}

Status AllReduceFloats(PeerGroup& group, std::uint64_t count, std::chrono::milliseconds timeout,
                       const std::atomic<bool>* aborted = nullptr) {
  std::vector<float> data(count, 1.0f);
  OpContext ctx = MakeContext(CollectiveKind::kAllReduce, DType::kFloat32, count, timeout, aborted);
  return group.AllReduce(data.data(), data.data(), count, DType::kFloat32, ReduceOp::kSum, ctx);
}

struct AbsentCase {
  const char* name;
  int size;
  int absent;
  std::uint64_t count;  // float32 elements; 0 runs a barrier
};

void PrintTo(const AbsentCase& c, std::ostream* os) { *os << c.name; }

class AbsentMemberTest : public ::testing::TestWithParam<AbsentCase> {};

TEST_P(AbsentMemberTest, OthersTimeOutNamingIt) {
  const AbsentCase c = GetParam();
  auto store = NewInMemoryStore();
  auto groups = CreateGroups(store.get(), c.size, RankedOptions("absent/"));
  std::vector<Status> statuses(static_cast<std::size_t>(c.size));
  OnThreads(c.size, [&](int m) {
    if (m == c.absent) return;  // stays in the group, never calls
    PeerGroup& group = *groups[static_cast<std::size_t>(m)];
    if (c.count == 0) {
      OpContext ctx = MakeContext(CollectiveKind::kBarrier, DType::kFloat32, 0, kShortTimeout);
      statuses[static_cast<std::size_t>(m)] = group.Barrier(ctx);
    } else {
      statuses[static_cast<std::size_t>(m)] = AllReduceFloats(group, c.count, kShortTimeout);
    }
  });
  for (int m = 0; m < c.size; ++m) {
    if (m == c.absent) continue;
    const Status& status = statuses[static_cast<std::size_t>(m)];
    EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << "member " << m << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr(WaitedFor({10 + c.absent})))
        << "member " << m << ": " << status;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ops, AbsentMemberTest,
    ::testing::Values(AbsentCase{"Ring", 4, 1, 1 << 20}, AbsentCase{"RecursiveDoubling", 5, 3, 16},
                      AbsentCase{"Barrier", 3, 0, 0}, AbsentCase{"Pair", 2, 1, 1 << 20}),
    [](const ::testing::TestParamInfo<AbsentCase>& param) { return param.param.name; });

TEST(TcpFaultsTest, AbortStopsThePeersNamingTheAbortingRank) {
  auto store = NewInMemoryStore();
  auto groups = CreateGroups(store.get(), 3, RankedOptions("abort/"));
  std::atomic<bool> aborted{false};
  std::vector<Status> statuses(3);
  // Member 0 joins only after the abort; members 1 and 2 are blocked waiting for it.
  OnThreads(3, [&](int m) {
    PeerGroup& group = *groups[static_cast<std::size_t>(m)];
    if (m == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      aborted = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    statuses[static_cast<std::size_t>(m)] =
        AllReduceFloats(group, 1 << 16, kLongTimeout, m == 2 ? &aborted : nullptr);
  });
  EXPECT_EQ(statuses[2].code(), StatusCode::kAborted) << statuses[2];
  for (int m : {0, 1}) {
    const Status& status = statuses[static_cast<std::size_t>(m)];
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
    EXPECT_THAT(status.message(), AllOf(HasSubstr("rank 12"), HasSubstr("aborted"))) << status;
  }
}

TEST(TcpFaultsTest, ClosedMemberIsNamedAndTheGroupStaysBroken) {
  auto store = NewInMemoryStore();
  auto groups = CreateGroups(store.get(), 3, RankedOptions("closed/"));
  std::vector<Status> statuses(3);
  OnThreads(3, [&](int m) {
    if (m == 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      groups[2].reset();  // closes its connections, as an exiting process would
      return;
    }
    statuses[static_cast<std::size_t>(m)] =
        AllReduceFloats(*groups[static_cast<std::size_t>(m)], 1 << 20, kLongTimeout);
  });
  for (int m : {0, 1}) {
    const Status& status = statuses[static_cast<std::size_t>(m)];
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
    EXPECT_THAT(status.message(), AllOf(HasSubstr("rank 12 closed its connection"),
                                        HasSubstr("it shut its communicator down")))
        << status;
    // Broken: the next op fails at once with the first failure.
    const Status again = AllReduceFloats(*groups[static_cast<std::size_t>(m)], 4, kLongTimeout);
    EXPECT_EQ(again, status);
  }
}

TEST(TcpFaultsTest, BootstrapNamesTheMemberThatNeverJoins) {
  auto store = NewInMemoryStore();
  GroupOptions options = RankedOptions("late/");
  options.bootstrap_timeout = std::chrono::milliseconds(1000);
  std::vector<Status> statuses(2);
  OnThreads(2, [&](int m) {
    statuses[static_cast<std::size_t>(m)] =
        CreateTcpGroup(MakeConfig(store.get(), m, 3, options)).status();
  });
  for (const Status& status : statuses) {
    EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status;
    EXPECT_THAT(status.message(), HasSubstr("rank 12 did not publish its address")) << status;
  }
}

TEST(TcpFaultsTest, AWildcardListenHostIsRefused) {
  auto store = NewInMemoryStore();
  GroupOptions options = RankedOptions("wildcard/");
  options.listen_hosts = {"0.0.0.0"};
  const Status status = CreateTcpGroup(MakeConfig(store.get(), 0, 2, options)).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("wildcard")) << status;
}

TEST(TcpFaultsTest, AHostNameIsPublishedAsTheAddressItResolvedTo) {
  auto store = NewInMemoryStore();
  GroupOptions options = RankedOptions("named/");
  options.listen_hosts = {"localhost"};
  auto groups = CreateGroups(store.get(), 2, options);
  auto address = store->TryGet("named/addr/1");
  ASSERT_TRUE(address.ok() && address->has_value());
  EXPECT_THAT(**address, ::testing::AnyOf(::testing::StartsWith("127.0.0.1:"),
                                          ::testing::StartsWith("[::1]:")));
  std::vector<Status> statuses(2);
  OnThreads(2, [&](int m) {
    statuses[static_cast<std::size_t>(m)] =
        AllReduceFloats(*groups[static_cast<std::size_t>(m)], 10, kLongTimeout);
  });
  EXPECT_TRUE(statuses[0].ok()) << statuses[0];
  EXPECT_TRUE(statuses[1].ok()) << statuses[1];
}

// Connects to `address` with a raw socket, sends `hello` and returns the answer line.
std::string Greet(const std::string& address, const std::string& hello) {
  auto parsed = ParseTcpAddress(address);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return "";
  const Deadline deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto fd = ConnectTcp(*parsed, deadline, nullptr);
  EXPECT_TRUE(fd.ok()) << fd.status();
  if (!fd.ok()) return "";
  EXPECT_TRUE(SendLine(fd->get(), hello, deadline, nullptr).ok());
  auto line = ReadLine(fd->get(), 1024, deadline, nullptr);
  return line.ok() ? *line : line.status().ToString();
}

TEST(TcpFaultsTest, StrayConnectionsAreRefusedAndTheGroupStillForms) {
  auto store = NewInMemoryStore();
  const GroupOptions options = RankedOptions("stray/");
  std::vector<std::unique_ptr<PeerGroup>> groups(2);
  std::thread first([&] {
    auto group = CreateTcpGroup(MakeConfig(store.get(), 0, 2, options));
    ASSERT_TRUE(group.ok()) << group.status();
    groups[0] = std::move(*group);
  });
  auto address = store->Get("stray/addr/0", std::chrono::seconds(30));
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_THAT(Greet(*address, "GET / HTTP/1.1\n"), HasSubstr("refused not a train-tcp/1 hello"));
  EXPECT_THAT(Greet(*address, "train-tcp/1 other/ 2 1 data 127.0.0.1:9\n"),
              HasSubstr("refused this address belongs to group stray/ of size 2, not other/"));
  EXPECT_THAT(Greet(*address, "train-tcp/1 stray/ 2 0 data 127.0.0.1:9\n"),
              HasSubstr("must not connect to member 0"));

  auto second = CreateTcpGroup(MakeConfig(store.get(), 1, 2, options));
  ASSERT_TRUE(second.ok()) << second.status();
  groups[1] = std::move(*second);
  first.join();
  ASSERT_TRUE(groups[0] != nullptr);
  std::vector<Status> statuses(2);
  OnThreads(2, [&](int m) {
    statuses[static_cast<std::size_t>(m)] =
        AllReduceFloats(*groups[static_cast<std::size_t>(m)], 1000, kLongTimeout);
  });
  EXPECT_TRUE(statuses[0].ok()) << statuses[0];
  EXPECT_TRUE(statuses[1].ok()) << statuses[1];
}

TEST(TcpFaultsTest, AnAddressOfAnotherGroupIsRefusedWithAClearError) {
  auto store = NewInMemoryStore();
  GroupOptions first_options = RankedOptions("first/");
  first_options.bootstrap_timeout = std::chrono::milliseconds(2000);
  std::thread first([&] {
    // Waits for a member 1 of its own that never comes.
    EXPECT_FALSE(CreateTcpGroup(MakeConfig(store.get(), 0, 2, first_options)).ok());
  });
  auto address = store->Get("first/addr/0", std::chrono::seconds(30));
  ASSERT_TRUE(address.ok()) << address.status();
  // A stale entry: group "second/" is told that its member 0 listens where "first/" does.
  ASSERT_TRUE(store->Set("second/addr/0", *address).ok());
  auto crossed = CreateTcpGroup(MakeConfig(store.get(), 1, 2, RankedOptions("second/")));
  first.join();
  ASSERT_FALSE(crossed.ok());
  EXPECT_EQ(crossed.status().code(), StatusCode::kUnavailable) << crossed.status();
  EXPECT_THAT(crossed.status().message(),
              AllOf(HasSubstr("rank 10"), HasSubstr("refused the connection"),
                    HasSubstr("belongs to group first/")))
      << crossed.status();
}

}  // namespace
}  // namespace train::internal::tcp_test
