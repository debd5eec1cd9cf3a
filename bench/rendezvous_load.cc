// Load on the rendezvous: N agents (threads here, each with its own store client and
// Rendezvous, as N agent processes would have) complete one round against one StoreServer on
// loopback, with min = max = N.
//
//   bench_rendezvous_load [--agents 64,256,1024] [--reps 5] [--last-call-ms 100] [--profile]
//                         [--fanout-bytes 100,4096,69632] [--fanout-waiters 1023]
//
// Reports, after the agents are released together: when the last one joined (the round's size
// claim appears), when the closing agent had read every member record, when its write of the
// round's record returned, and when every agent had its Round back. Checks that the agents
// got node ranks 0..N-1, each once, in one round. --profile adds, per N, the store calls the
// agents made (last run): how many and how long, for all agents and for the one that closed
// the round. Then one store call alone on an idle server, and the store handing one value of
// each size to that many parked Gets, which is what the end of a round is.
#include <sys/resource.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rendezvous.h"
#include "store_fanout.h"
#include "summary.h"
#include "timing_store.h"
#include "train/store.h"
#include "train/worker.h"

namespace {

using Clock = std::chrono::steady_clock;
using trainctl::agent::NodeInfo;
using trainctl::agent::Rendezvous;
using trainctl::agent::RendezvousConfig;
using trainctl::agent::Round;
using trainctl::agent::RoundKey;

struct Options {
  std::vector<int> agents{64, 256, 1024};
  int reps = 5;
  int last_call_ms = 100;
  bool profile = false;
  std::vector<int> fanout_bytes{100, 4096, 69632};
  int fanout_waiters = 1023;
};

bool ParseInts(const std::string& text, std::vector<int>* out) {
  out->clear();
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::istringstream one(item);
    int value = 0;
    if (!(one >> value) || !one.eof() || value <= 0) return false;
    out->push_back(value);
  }
  return !out->empty();
}

bool ParseFlags(int argc, char** argv, Options* o) {
  std::vector<int> one;
  for (int i = 1; i < argc; i += 2) {
    if (std::string(argv[i]) == "--profile") {
      o->profile = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--agents") {
      if (!ParseInts(value, &o->agents)) return false;
    } else if (flag == "--reps" && ParseInts(value, &one) && one.size() == 1) {
      o->reps = one[0];
    } else if (flag == "--last-call-ms" && ParseInts(value, &one) && one.size() == 1) {
      o->last_call_ms = one[0];
    } else if (flag == "--fanout-bytes") {
      if (!ParseInts(value, &o->fanout_bytes)) return false;
    } else if (flag == "--fanout-waiters" && ParseInts(value, &one) && one.size() == 1) {
      o->fanout_waiters = one[0];
    } else {
      return false;
    }
  }
  return true;
}

// Every agent holds a connection of its own, and the server one per agent: raise the soft
// open-file limit to the hard one.
rlim_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

double Since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

struct RunResult {
  // After release: the last agent joined (the size claim is seen); the closer has read every
  // member record (it starts to write the round); its write returned (the server has handed
  // the record to every parked agent); every agent has its Round.
  double joined_s = 0, members_read_s = 0, closed_s = 0, done_s = 0;
  std::size_t record_bytes = 0;     // the round's record, which every agent receives
  std::string error;                // empty when every agent got a distinct rank in one round
  bench::StoreProfile all, closer;  // store calls of every agent; of the one that closed
};

RunResult Failed(std::string error) {
  RunResult r;
  r.error = std::move(error);
  return r;
}

// The wall time at which `key` (under the job's prefix) appears, watched by a client of its own.
class KeyWatch {
 public:
  KeyWatch(const train::StoreAddress& address, const std::string& token, const std::string& job,
           std::string key)
      : thread_([=, this] {
          auto client = train::ConnectStore(address, token);
          if (!client.ok()) return;
          auto store = train::NewPrefixStore(train::JobKeyPrefix(job), client->get());
          if (store->Get(key, std::chrono::minutes(2)).ok()) seen_ = Clock::now();
        }) {}
  ~KeyWatch() { Join(); }
  KeyWatch(const KeyWatch&) = delete;
  KeyWatch& operator=(const KeyWatch&) = delete;

  std::optional<Clock::time_point> Join() {
    if (thread_.joinable()) thread_.join();
    return seen_;
  }

 private:
  std::optional<Clock::time_point> seen_;
  std::thread thread_;
};

RunResult RunRound(int n, int rep, const Options& o) {
  RunResult result;
  auto token = train::NewToken();
  if (!token.ok()) return Failed(token.status().ToString());
  train::StoreServerOptions server_options;
  server_options.token = *token;
  auto server = train::StoreServer::Start(server_options);
  if (!server.ok()) return Failed(server.status().ToString());
  const train::StoreAddress address = (*server)->address();
  const std::string job = "load-" + std::to_string(n) + "-" + std::to_string(rep);

  RendezvousConfig config;
  config.min_nodes = config.max_nodes = n;
  config.join_timeout = std::chrono::seconds(120);
  config.last_call = std::chrono::milliseconds(o.last_call_ms);

  std::vector<std::optional<Round>> rounds(static_cast<std::size_t>(n));
  std::vector<std::string> errors(static_cast<std::size_t>(n));
  std::vector<Clock::time_point> done(static_cast<std::size_t>(n));
  std::vector<bench::StoreProfile> profiles(static_cast<std::size_t>(n));
  std::atomic<bool> cancelled{false};
  Clock::time_point t0;
  // Agents connect and set up first; the barrier's completion starts the clock.
  std::barrier gate(n + 1, [&t0]() noexcept { t0 = Clock::now(); });
  std::vector<std::thread> agents;
  agents.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    agents.emplace_back([&, i] {
      const auto k = static_cast<std::size_t>(i);
      auto client = train::ConnectStore(address, *token);
      if (!client.ok()) {
        errors[k] = client.status().ToString();
        gate.arrive_and_wait();
        return;
      }
      auto job_store = train::NewPrefixStore(train::JobKeyPrefix(job), client->get());
      bench::TimingStore timed(job_store.get());
      Rendezvous rendezvous(&timed, config,
                            NodeInfo{"agent-" + std::to_string(i), "127.0.0.1", -1, 0, "bench"});
      gate.arrive_and_wait();
      auto round = rendezvous.Join(0, cancelled);
      done[k] = Clock::now();
      profiles[k] = timed.profile();
      if (round.ok()) {
        rounds[k] = *round;
      } else {
        errors[k] = round.status().ToString();
      }
    });
  }
  KeyWatch joined(address, *token, job, RoundKey(0, "size"));
  gate.arrive_and_wait();
  for (std::thread& t : agents) t.join();
  const auto joined_at = joined.Join();
  if (auto client = train::ConnectStore(address, *token); client.ok()) {
    auto record = (*client)->TryGet(train::JobKeyPrefix(job) + RoundKey(0, "closed"));
    if (record.ok() && record->has_value()) result.record_bytes = (*record)->size();
  }
  (*server)->Stop();

  std::set<int> ranks;
  std::set<std::int64_t> ids;
  Clock::time_point last = t0;
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (!rounds[k]) {
      return Failed("agent " + std::to_string(i) + ": " + errors[k]);
    }
    ranks.insert(rounds[k]->node_rank);
    ids.insert(rounds[k]->id);
    if (rounds[k]->num_nodes() != n) {
      return Failed("agent " + std::to_string(i) + " got a round of " +
                    std::to_string(rounds[k]->num_nodes()) + " nodes");
    }
    last = std::max(last, done[k]);
  }
  if (ids.size() != 1) return Failed(std::to_string(ids.size()) + " different rounds");
  if (static_cast<int>(ranks.size()) != n || *ranks.begin() != 0 || *ranks.rbegin() != n - 1) {
    return Failed("node ranks are not 0.." + std::to_string(n - 1) + " each once");
  }
  // The closer reads every member record: the agent with the most TryGet calls.
  std::size_t closer = 0;
  const auto tryget = static_cast<std::size_t>(bench::StoreCall::kTryGet);
  for (std::size_t k = 0; k < profiles.size(); ++k) {
    for (std::size_t c = 0; c < result.all.size(); ++c) result.all[c].Add(profiles[k][c]);
    if (profiles[k][tryget].count > profiles[closer][tryget].count) closer = k;
  }
  result.closer = profiles[closer];
  // Close's last call writes the round's record.
  const bench::CallStats& set = result.closer[static_cast<std::size_t>(bench::StoreCall::kSet)];
  result.done_s = Since(t0, last);
  result.joined_s = joined_at ? Since(t0, *joined_at) : -1;
  result.members_read_s = Since(t0, set.last_start);
  result.closed_s = Since(t0, set.last_end);
  return result;
}

void PrintProfile(int n, const RunResult& r) {
  std::printf("#   store calls with %d agents (last run): all agents | the agent that closed\n", n);
  std::printf("#   %-7s %8s %9s %9s | %6s %9s\n", "call", "count", "mean ms", "max ms", "count",
              "total s");
  for (std::size_t c = 0; c < r.all.size(); ++c) {
    const bench::CallStats& a = r.all[c];
    const bench::CallStats& b = r.closer[c];
    if (a.count == 0) continue;
    std::printf("#   %-7s %8lld %9.3f %9.3f | %6lld %9.3f\n",
                bench::StoreCallName(static_cast<bench::StoreCall>(c)),
                static_cast<long long>(a.count), a.total_s * 1e3 / a.count, a.max_s * 1e3,
                static_cast<long long>(b.count), b.total_s);
  }
}

void FanoutTable(const Options& o) {
  std::vector<double> trips;
  for (int rep = 0; rep < o.reps; ++rep) {
    auto r = bench::MeasureRoundTrip(1024);
    if (r.ok()) trips.push_back(*r * 1e3);
  }
  std::printf(
      "#\n# Round trip: 1024 sequential TryGets from one client, idle server: ms per "
      "call, median [min, max] of %d runs\n  %s\n",
      o.reps, bench::Cell(bench::Summarize(trips), 3).c_str());
  std::printf(
      "#\n# Fan-out: %d clients park a Get on one key, one more sets it; seconds from "
      "that Set's start\n",
      o.fanout_waiters);
  std::printf("# median [min, max] of %d runs\n", o.reps);
  std::printf("# %8s %24s %24s %7s\n", "bytes", "Set returned", "every waiter has it", "failed");
  for (int bytes : o.fanout_bytes) {
    std::vector<double> set, all;
    int failed = 0;
    for (int rep = 0; rep < o.reps; ++rep) {
      auto r = bench::MeasureFanout(o.fanout_waiters, static_cast<std::size_t>(bytes));
      if (!r.ok()) {
        ++failed;
        std::fprintf(stderr, "  fan-out %d B run %d: FAILED: %s\n", bytes, rep + 1,
                     r.status().ToString().c_str());
        continue;
      }
      set.push_back(r->set_s);
      all.push_back(r->all_s);
    }
    std::printf("  %8d %24s %24s %7d\n", bytes, bench::Cell(bench::Summarize(set), 3).c_str(),
                bench::Cell(bench::Summarize(all), 3).c_str(), failed);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseFlags(argc, argv, &o)) {
    std::fputs(
        "usage: bench_rendezvous_load [--agents 64,256,1024] [--reps 5] "
        "[--last-call-ms 100] [--profile]\n"
        "                             [--fanout-bytes LIST] [--fanout-waiters N]\n",
        stderr);
    return 2;
  }
  const rlim_t files = RaiseFileLimit();
  std::printf(
      "#\n# Rendezvous load: N agents (threads, one store client and Rendezvous each) "
      "complete one round, min = max = N,\n# against one StoreServer on loopback; "
      "lastCall %d ms; open-file limit %llu\n",
      o.last_call_ms, static_cast<unsigned long long>(files));
  std::printf("# seconds after the agents are released, median [min, max] of %d runs\n", o.reps);
  std::printf("# %6s %22s %22s %22s %22s %8s %6s %s\n", "agents", "last joined", "members read",
              "record handed out", "every agent has it", "record", "failed", "check");
  for (int n : o.agents) {
    std::vector<double> joined, read, closed, done;
    int failed = 0;
    std::string first_error;
    RunResult last;
    for (int rep = 0; rep < o.reps; ++rep) {
      RunResult r = RunRound(n, rep, o);
      if (!r.error.empty()) {
        ++failed;
        if (first_error.empty()) first_error = r.error;
        std::fprintf(stderr, "  %d agents run %d: FAILED: %s\n", n, rep + 1, r.error.c_str());
        continue;
      }
      std::fprintf(stderr, "  %d agents run %d: %.3f s\n", n, rep + 1, r.done_s);
      last = r;
      if (r.joined_s >= 0) joined.push_back(r.joined_s);
      read.push_back(r.members_read_s);
      closed.push_back(r.closed_s);
      done.push_back(r.done_s);
    }
    char record[32];
    std::snprintf(record, sizeof(record), "%.1fK", last.record_bytes / 1024.0);
    std::printf("  %6d %22s %22s %22s %22s %8s %6d %s\n", n,
                bench::Cell(bench::Summarize(joined), 3).c_str(),
                bench::Cell(bench::Summarize(read), 3).c_str(),
                bench::Cell(bench::Summarize(closed), 3).c_str(),
                bench::Cell(bench::Summarize(done), 3).c_str(), record, failed,
                failed == 0 ? "ok: ranks 0..N-1 once each, one round" : first_error.c_str());
    if (o.profile && failed < o.reps) PrintProfile(n, last);
    std::fflush(stdout);
  }
  FanoutTable(o);
  return 0;
}
