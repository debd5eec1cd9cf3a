// bench_etcd_store: the two store engines side by side on this machine, over loopback. For each
// of the built-in store (a StoreServer and its HTTP client), one etcd member and a 3-member etcd
// cluster: one Set round trip, one TryGet, one Add, and one blocking Get woken by a Set from
// another client (from the Set's start until the waiting Get returns).
//
//   build/bench/bench_etcd_store [--iterations N] [--etcd /usr/bin/etcd]
//
// etcd members run as child processes with their data in a scratch directory (the system's
// temporary directory, as the tests use), killed at the end.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "summary.h"
#include "train/store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int FreePort() {
  auto server = train::StoreServer::Start({"127.0.0.1", 0, "probe", {}});
  const int port = server.ok() ? (*server)->port() : 0;
  if (server.ok()) (*server)->Stop();
  return port;
}

// Members of one etcd cluster on loopback, killed with it.
class EtcdProcesses {
 public:
  EtcdProcesses(const std::string& binary, int members, const fs::path& dir) : dir_(dir) {
    std::vector<int> client, peer;
    std::string initial;
    for (int i = 0; i < members; ++i) {
      client.push_back(FreePort());
      peer.push_back(FreePort());
      initial += (i ? "," : "") + Name(i) + "=http://127.0.0.1:" + std::to_string(peer[i]);
    }
    for (int i = 0; i < members; ++i) {
      const std::string c = "http://127.0.0.1:" + std::to_string(client[i]);
      const std::string p = "http://127.0.0.1:" + std::to_string(peer[i]);
      std::vector<std::string> args = {binary,
                                       "--name",
                                       Name(i),
                                       "--data-dir",
                                       (dir / Name(i)).string(),
                                       "--listen-client-urls",
                                       c,
                                       "--advertise-client-urls",
                                       c,
                                       "--listen-peer-urls",
                                       p,
                                       "--initial-advertise-peer-urls",
                                       p,
                                       "--initial-cluster",
                                       initial,
                                       "--initial-cluster-token",
                                       dir.filename().string()};
      const pid_t pid = fork();
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const int log =
            open((dir / (Name(i) + ".log")).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
        std::vector<char*> argv;
        for (std::string& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        execv(binary.c_str(), argv.data());
        _exit(127);
      }
      pids_.push_back(pid);
      endpoints_.push_back("127.0.0.1:" + std::to_string(client[i]));
    }
  }
  ~EtcdProcesses() {
    for (pid_t pid : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  static std::string Name(int i) { return "m" + std::to_string(i); }
  fs::path dir_;
  std::vector<pid_t> pids_;
  std::vector<std::string> endpoints_;
};

struct Row {
  std::string backend;
  bench::Summary set, try_get, add, woken;
};

// Times the four operations with `connect` giving fresh clients of one backend.
Row Measure(const std::string& name, int iterations,
            const std::function<std::unique_ptr<train::Store>()>& connect) {
  Row row{name, {}, {}, {}, {}};
  auto store = connect();
  auto setter = connect();
  if (!store || !setter) return row;
  // Whatever the first requests pay (connections, an election, a token) is not measured.
  for (int i = 0; i < 5; ++i) {
    (void)store->Set("warm", "x");
    (void)setter->Set("warm", "x");
  }
  std::vector<double> sets, gets, adds, woken;
  const std::string value(64, 'v');
  for (int i = 0; i < iterations; ++i) {
    const std::string key = "bench/" + std::to_string(i);
    auto start = Clock::now();
    if (store->Set(key, value).ok()) sets.push_back(MillisSince(start));
    start = Clock::now();
    if (store->TryGet(key).ok()) gets.push_back(MillisSince(start));
    start = Clock::now();
    if (store->Add("bench/counter", 1).ok()) adds.push_back(MillisSince(start));
  }
  for (int i = 0; i < iterations; ++i) {
    const std::string key = "woken/" + std::to_string(i);
    std::atomic<Clock::rep> set_at{0};  // when the Set started, in the clock's ticks
    std::atomic<bool> ready{false};
    double waited = -1;
    std::thread getter([&] {
      ready = true;
      if (store->Get(key, std::chrono::seconds(30)).ok()) {
        waited = MillisSince(Clock::time_point(Clock::duration(set_at.load())));
      }
    });
    while (!ready) std::this_thread::yield();
    // Long enough for the Get to be parked (built-in) or watching (etcd) before the Set.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    set_at = Clock::now().time_since_epoch().count();
    (void)setter->Set(key, value);
    getter.join();
    if (waited >= 0) woken.push_back(waited);
  }
  row.set = bench::Summarize(sets);
  row.try_get = bench::Summarize(gets);
  row.add = bench::Summarize(adds);
  row.woken = bench::Summarize(woken);
  return row;
}

std::unique_ptr<train::Store> Etcd(const std::vector<std::string>& endpoints) {
  train::EtcdOptions options;
  options.endpoints = endpoints;
  options.key_prefix = "/bench/";
  options.request_timeout = std::chrono::seconds(30);
  auto store = train::ConnectEtcdStore(options);
  if (!store.ok())
    std::fprintf(stderr, "bench_etcd_store: %s\n", store.status().ToString().c_str());
  return store.ok() ? std::move(*store) : nullptr;
}

// Waits until a cluster answers (a leader is elected); false after 60 s.
bool WaitServing(const std::vector<std::string>& endpoints) {
  auto store = Etcd(endpoints);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (store && Clock::now() < deadline) {
    if (store->Set("ready", "1").ok()) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 200;
  std::string etcd = "/usr/bin/etcd";
  CLI::App app(
      "The store's two engines side by side over loopback: the built-in store (a StoreServer and\n"
      "its HTTP client) against one etcd member and a 3-member etcd cluster, started here from\n"
      "--etcd with their data under the system's temporary directory. For each, one Set round\n"
      "trip, one TryGet, one Add, and one blocking Get woken by a Set from another client (from\n"
      "the Set's start until the Get returns), in ms, median [min, max].",
      "bench_etcd_store");
  app.footer(R"(
Without an executable --etcd only the built-in store is measured. Exit status: 0 when done, 1
when the built-in store does not start, 2 on bad flags.)");
  app.add_option("--iterations", iterations, "round trips of each operation per engine")
      ->capture_default_str();
  app.add_option("--etcd", etcd, "the etcd binary to start the members from")
      ->capture_default_str();
  if (auto exit = bench::ParseCommandLine(app, argc, argv)) return *exit;
  std::vector<Row> rows;
  auto server = train::StoreServer::Start({"127.0.0.1", 0, "bench-token", {}});
  if (!server.ok()) {
    std::fprintf(stderr, "bench_etcd_store: %s\n", server.status().ToString().c_str());
    return 1;
  }
  rows.push_back(Measure("builtin", iterations, [&] {
    auto store = train::ConnectStore((*server)->address(), "bench-token");
    return store.ok() ? std::move(*store) : nullptr;
  }));
  if (access(etcd.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "bench_etcd_store: %s is missing: only the built-in store is measured\n",
                 etcd.c_str());
  }
  for (int members : {1, 3}) {
    if (access(etcd.c_str(), X_OK) != 0) break;
    const fs::path dir = fs::temp_directory_path() /
                         ("bench-etcd-" + std::to_string(getpid()) + "-" + std::to_string(members));
    fs::create_directories(dir);
    {
      EtcdProcesses cluster(etcd, members, dir);
      if (!WaitServing(cluster.endpoints())) {
        std::fprintf(stderr, "bench_etcd_store: the %d-member cluster did not start\n", members);
      } else {
        rows.push_back(Measure("etcd x" + std::to_string(members), iterations,
                               [&] { return Etcd(cluster.endpoints()); }));
      }
    }
    fs::remove_all(dir);
  }
  std::printf("# store round trips over loopback, ms: median [min, max] of %d\n", iterations);
  std::printf("# %-9s %24s %24s %24s %24s\n", "backend", "Set", "TryGet", "Add",
              "Get woken by a Set");
  for (const Row& row : rows) {
    std::printf("  %-9s %24s %24s %24s %24s\n", row.backend.c_str(),
                bench::Cell(row.set, 3).c_str(), bench::Cell(row.try_get, 3).c_str(),
                bench::Cell(row.add, 3).c_str(), bench::Cell(row.woken, 3).c_str());
  }
  return 0;
}
