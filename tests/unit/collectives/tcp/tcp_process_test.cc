// Members of a TCP group as forked processes meeting through a directory store: results right
// over loopback and over 127.0.0.2 / 127.0.0.3 standing for two hosts, and a member SIGKILLed
// mid-op stops the others with UNAVAILABLE naming it, long before their timeouts.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <thread>

#include "../../../scratch_dir.h"
#include "directory_store.h"
#include "tcp_test_support.h"

namespace train::internal::tcp_test {
namespace {

using ::train::testing::NewDirectoryStore;
using ::train::testing::ScratchDir;

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::chrono::minutes kOpTimeout{5};
// A member process still running after this is killed and the test fails.
constexpr std::chrono::seconds kProcessLimit{120};

struct MemberExit {
  int code = -1;       // exit status, or minus the signal that ended it
  std::string report;  // the Status the member ended with
};

// Forks `size` members, each running body(member) and reporting its Status through a pipe;
// waits for all of them up to kProcessLimit, then kills and reaps what is left.
std::vector<MemberExit> RunAsProcesses(int size, const std::function<Status(int member)>& body) {
  std::vector<pid_t> pids(static_cast<std::size_t>(size), -1);
  std::vector<int> pipes(static_cast<std::size_t>(size), -1);
  for (int m = 0; m < size; ++m) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      break;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(ends[0]);
      const Status status = body(m);
      const std::string report = status.ToString();
      (void)!::write(ends[1], report.data(), report.size());
      ::_exit(status.ok() ? 0 : 1);  // no atexit handlers of the test runner in a child
    }
    ::close(ends[1]);
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      ::close(ends[0]);
      break;
    }
    pids[static_cast<std::size_t>(m)] = pid;
    pipes[static_cast<std::size_t>(m)] = ends[0];
  }
  std::vector<MemberExit> exits(static_cast<std::size_t>(size));
  const auto give_up = std::chrono::steady_clock::now() + kProcessLimit;
  for (int m = 0; m < size; ++m) {
    const pid_t pid = pids[static_cast<std::size_t>(m)];
    if (pid < 0) continue;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > give_up) {
        ADD_FAILURE() << "member " << m << " still ran after " << kProcessLimit.count()
                      << " s: killed";
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    MemberExit& exit = exits[static_cast<std::size_t>(m)];
    exit.code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    char buffer[4096];
    ssize_t got = 0;
    while ((got = ::read(pipes[static_cast<std::size_t>(m)], buffer, sizeof(buffer))) > 0) {
      exit.report.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(pipes[static_cast<std::size_t>(m)]);
  }
  return exits;
}

// Member m's element i, and the sum over `size` members: exact in float32.
float Value(int member, std::uint64_t i) { return static_cast<float>((member + 1) * (i % 5)); }
float Sum(int size, std::uint64_t i) { return static_cast<float>((i % 5) * size * (size + 1) / 2); }

Status CheckedAllReduce(PeerGroup& group, std::uint64_t count, std::uint64_t seq) {
  std::vector<float> data(count);
  for (std::uint64_t i = 0; i < count; ++i) data[i] = Value(group.rank(), i);
  OpContext ctx =
      MakeContext(CollectiveKind::kAllReduce, DType::kFloat32, count, kOpTimeout, nullptr, seq);
  TRAIN_RETURN_IF_ERROR(
      group.AllReduce(data.data(), data.data(), count, DType::kFloat32, ReduceOp::kSum, ctx));
  for (std::uint64_t i = 0; i < count; ++i) {
    if (data[i] != Sum(group.size(), i)) {
      return InternalError("element " + std::to_string(i) + " is " + std::to_string(data[i]) +
                           ", want " + std::to_string(Sum(group.size(), i)));
    }
  }
  return Status::Ok();
}

Status CheckedGatherAndBroadcast(PeerGroup& group, std::uint64_t count) {
  const int n = group.size();
  std::vector<float> mine(count), all(count * static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < count; ++i) mine[i] = Value(group.rank(), i);
  OpContext gather = MakeContext(CollectiveKind::kAllGather, DType::kFloat32, count, kOpTimeout);
  TRAIN_RETURN_IF_ERROR(group.AllGather(mine.data(), all.data(), count * sizeof(float), gather));
  for (int m = 0; m < n; ++m) {
    for (std::uint64_t i = 0; i < count; ++i) {
      if (all[static_cast<std::size_t>(m) * count + i] != Value(m, i)) {
        return InternalError("gathered block " + std::to_string(m) + " is wrong at " +
                             std::to_string(i));
      }
    }
  }
  const int root = n - 1;
  OpContext broadcast = MakeContext(CollectiveKind::kBroadcast, DType::kFloat32, count, kOpTimeout);
  TRAIN_RETURN_IF_ERROR(group.Broadcast(mine.data(), count * sizeof(float), root, broadcast));
  for (std::uint64_t i = 0; i < count; ++i) {
    if (mine[i] != Value(root, i)) {
      return InternalError("broadcast element " + std::to_string(i) + " is wrong");
    }
  }
  return Status::Ok();
}

Status JoinAndRun(const std::string& directory, int member, int size, const GroupOptions& options,
                  const std::function<Status(PeerGroup& group)>& work) {
  auto store = NewDirectoryStore(directory);
  auto group = CreateTcpGroup(MakeConfig(store.get(), member, size, options));
  if (!group.ok()) return group.status();
  return work(**group);
}

void ExpectAllSucceeded(const std::vector<MemberExit>& exits) {
  for (std::size_t m = 0; m < exits.size(); ++m) {
    EXPECT_EQ(exits[m].code, 0) << "member " << m << ": " << exits[m].report;
  }
}

TEST(TcpProcessTest, EveryAlgorithmIsRightAcrossProcesses) {
  ScratchDir directory;
  GroupOptions options;
  options.key_prefix = "procs/";
  const auto exits = RunAsProcesses(4, [&](int member) {
    return JoinAndRun(directory.str(), member, 4, options, [](PeerGroup& group) {
      // Recursive doubling, then the ring, a few times each so that ops follow each other.
      for (std::uint64_t seq = 1; seq <= 6; ++seq) {
        TRAIN_RETURN_IF_ERROR(CheckedAllReduce(group, seq % 2 == 1 ? 1000 : 300001, seq));
      }
      TRAIN_RETURN_IF_ERROR(CheckedGatherAndBroadcast(group, 33));
      return CheckedGatherAndBroadcast(group, 100003);
    });
  });
  ExpectAllSucceeded(exits);
}

TEST(TcpProcessTest, MembersOnTwoLoopbackHostsMeet) {
  ScratchDir directory;
  GroupOptions options;
  options.key_prefix = "hosts/";
  options.listen_hosts = {"127.0.0.2", "127.0.0.3"};
  options.deterministic = true;
  const auto exits = RunAsProcesses(4, [&](int member) {
    return JoinAndRun(directory.str(), member, 4, options, [](PeerGroup& group) {
      TRAIN_RETURN_IF_ERROR(CheckedAllReduce(group, 7, 1));
      TRAIN_RETURN_IF_ERROR(CheckedAllReduce(group, 300001, 2));
      return CheckedGatherAndBroadcast(group, 100003);
    });
  });
  ExpectAllSucceeded(exits);
  // Each member listened on, and published, the address of its "host".
  auto store = NewDirectoryStore(directory.str());
  for (int m = 0; m < 4; ++m) {
    auto address = store->TryGet("hosts/addr/" + std::to_string(m));
    ASSERT_TRUE(address.ok() && address->has_value()) << "member " << m;
    EXPECT_THAT(**address, StartsWith(m % 2 == 0 ? "127.0.0.2:" : "127.0.0.3:"));
  }
}

TEST(TcpProcessTest, KilledMemberIsNamedByEveryOtherFast) {
  ScratchDir directory;
  GroupOptions options;
  options.key_prefix = "killed/";
  constexpr int kVictim = 2;
  const auto exits = RunAsProcesses(4, [&](int member) {
    return JoinAndRun(directory.str(), member, 4, options, [member](PeerGroup& group) {
      for (std::uint64_t seq = 1; seq <= 10000; ++seq) {
        if (member == kVictim && seq == 3) {
          // Dies while its op #3 moves data (threads only after fork, in the child).
          std::thread([] {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            ::raise(SIGKILL);
          }).detach();
        }
        TRAIN_RETURN_IF_ERROR(CheckedAllReduce(group, 1 << 20, seq));
      }
      return InternalError("10000 all-reduces completed without member 2");
    });
  });
  ASSERT_EQ(exits.size(), 4u);
  EXPECT_EQ(exits[kVictim].code, -SIGKILL) << exits[kVictim].report;
  for (int m : {0, 1, 3}) {
    const MemberExit& exit = exits[static_cast<std::size_t>(m)];
    EXPECT_EQ(exit.code, 1) << "member " << m;
    EXPECT_THAT(exit.report,
                AllOf(StartsWith("UNAVAILABLE"), HasSubstr("rank 2 closed its connection"),
                      HasSubstr("it exited or was killed")))
        << "member " << m;
  }
}

}  // namespace
}  // namespace train::internal::tcp_test
