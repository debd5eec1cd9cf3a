// Running the members of a shared-memory group as threads (over an in-memory store) or as
// forked processes (over a directory store), and building the OpContext an op body gets.
#ifndef TRAIN_TESTS_UNIT_COLLECTIVES_SHM_SHM_TEST_UTIL_H_
#define TRAIN_TESTS_UNIT_COLLECTIVES_SHM_SHM_TEST_UTIL_H_

#include <dirent.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/op_context.h"
#include "cpu/shm_group.h"
#include "directory_store.h"
#include "train/store.h"

namespace train::testing {

using internal::CollectiveKind;

using internal::OpContext;
using internal::PeerGroup;
using Clock = std::chrono::steady_clock;

// A member's body: returns "" when all went as expected, else what did not.
using MemberFn = std::function<std::string(int member, PeerGroup& group)>;

struct GroupOptions {
  int size = 2;
  std::size_t chunk_bytes = 0;
  int comm_rank_base = 0;  // member m is communicator rank base + m
  std::chrono::milliseconds join_timeout{10000};
};

// The OpContext a communicator would build: the op, its deadline, the abort flag, and a
// timeout error that lists the ranks waited for ("... waiting for ranks 3, 5").
inline OpContext MakeContext(CollectiveKind kind, std::chrono::milliseconds timeout,
                             const std::atomic<bool>* aborted = nullptr, std::uint64_t seq = 1) {
  OpContext ctx;
  ctx.op.kind = kind;
  ctx.op.seq = seq;
  ctx.started = Clock::now();
  ctx.deadline = ctx.started + timeout;
  ctx.aborted = aborted;
  const std::string what = ctx.op.Describe();
  ctx.timeout_error = [what](const std::vector<int>& ranks) {
    std::string list;
    for (int r : ranks) list += (list.empty() ? "" : ", ") + std::to_string(r);
    return DeadlineExceededError(what + " timed out waiting for ranks " + list);
  };
  return ctx;
}

inline internal::ShmGroupConfig MakeConfig(const GroupOptions& options, Store* store, int member) {
  internal::ShmGroupConfig config;
  config.store = store;
  config.key_prefix = "test/shm/";
  config.member = member;
  config.size = options.size;
  for (int m = 0; m < options.size; ++m) config.comm_ranks.push_back(options.comm_rank_base + m);
  config.chunk_bytes = options.chunk_bytes;
  config.deadline = Clock::now() + options.join_timeout;
  return config;
}

// Members as threads of this process. Returns each member's result.
inline std::vector<std::string> RunThreads(const GroupOptions& options, const MemberFn& body) {
  auto store = NewInMemoryStore();
  std::vector<std::string> results(options.size);
  std::vector<std::thread> threads;
  for (int m = 0; m < options.size; ++m) {
    threads.emplace_back([&, m] {
      auto group = internal::CreateShmGroup(MakeConfig(options, store.get(), m));
      if (!group.ok()) {
        results[m] = "join: " + group.status().ToString();
        return;
      }
      results[m] = body(m, **group);
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

// Members as forked processes (forked before any of them starts a thread). Each child reports
// through a shared page; the parent waits up to `timeout`, then SIGKILLs whoever is left.
// `while_running(pids)` runs in the parent once all are forked (to kill one, say).
struct ProcessRun {
  std::vector<std::string> results;
  std::vector<pid_t> pids;
};

inline ProcessRun RunProcesses(
    const GroupOptions& options, const MemberFn& body,
    std::chrono::milliseconds timeout = std::chrono::seconds(30),
    const std::function<void(const std::vector<pid_t>&)>& while_running = {}) {
  constexpr std::size_t kReport = 4096;
  char dir_template[] = "/tmp/train-shm-test.XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  void* shared = ::mmap(nullptr, kReport * options.size, PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* reports = static_cast<char*>(shared);
  std::memset(reports, 0, kReport * options.size);
  ProcessRun run;
  for (int m = 0; m < options.size; ++m) {
    std::snprintf(reports + kReport * m, kReport, "member %d did not report (killed?)", m);
    const pid_t pid = ::fork();
    if (pid == 0) {
      std::string result;
      {
        auto store = NewDirectoryStore(dir);
        auto group = internal::CreateShmGroup(MakeConfig(options, store.get(), m));
        result = group.ok() ? body(m, **group) : "join: " + group.status().ToString();
      }
      std::snprintf(reports + kReport * m, kReport, "%s", result.c_str());
      ::_exit(0);
    }
    run.pids.push_back(pid);
  }
  if (while_running) while_running(run.pids);
  const auto until = Clock::now() + timeout;
  std::vector<bool> reaped(options.size, false);
  for (int left = options.size; left > 0;) {
    for (int m = 0; m < options.size; ++m) {
      if (reaped[m]) continue;
      int status = 0;
      if (::waitpid(run.pids[m], &status, WNOHANG) == run.pids[m]) {
        reaped[m] = true;
        --left;
      }
    }
    if (left == 0) break;
    if (Clock::now() >= until) {
      for (int m = 0; m < options.size; ++m) {
        if (reaped[m]) continue;
        ::kill(run.pids[m], SIGKILL);
        ::waitpid(run.pids[m], nullptr, 0);
        std::snprintf(reports + kReport * m, kReport, "member %d timed out, killed", m);
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int m = 0; m < options.size; ++m) run.results.emplace_back(reports + kReport * m);
  ::munmap(shared, kReport * options.size);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return run;
}

// Segments in /dev/shm that the processes `pids` created: their names are
// "train-shm-<pid namespace>-<pid>-<random>".
inline std::vector<std::string> SegmentsOf(const std::vector<pid_t>& pids) {
  std::vector<std::string> found;
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) return found;
  const std::string prefix = "train-shm-";
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    const auto dash = name.find('-', prefix.size());
    if (dash == std::string::npos) continue;
    const int pid = std::atoi(name.c_str() + dash + 1);
    for (pid_t p : pids) {
      if (pid == p) found.push_back(name);
    }
  }
  ::closedir(dir);
  return found;
}

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_COLLECTIVES_SHM_SHM_TEST_UTIL_H_
