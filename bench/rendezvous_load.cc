// Load on the rendezvous: N agents (threads here, each with its own store client and
// Rendezvous, as N agent processes would have) complete one round against one StoreServer on
// loopback in a process of its own (or an etcd cluster, --etcd), with min = max = N; then keep
// the round alive for a while as running agents do (heartbeats at the spec's default interval,
// the ring's liveness reads, a parked watch of the restart key).
//
//   bench_rendezvous_load [--agents 64,256,1024] [--reps 5] [--last-call-ms 100] [--profile]
//                         [--heartbeat-s 5] [--probe-ms 5] [--agent-nice 0] [--store-cpus 0]
//                         [--etcd HOST:PORT]
//                         [--fanout-bytes 100,4096,69632] [--fanout-waiters 1023]
//
// Reports, after the agents are released together: when the last one joined (the round's size
// claim appears), when the closing agent had read every member record, when its write of the
// round's record returned, and when every agent had its Round back; and the round trip of one
// client that takes no part (a TryGet every --probe-ms) during the round. Checks that the
// agents got node ranks 0..N-1, each once, in one round. Then, for --heartbeat-s, the same
// client's round trip while every agent heartbeats, and the oldest heartbeat any agent had
// (what fencing is decided on). --profile adds, per N, the store calls the agents made in the
// round (last run). Then one store call alone on an idle server, and the store handing one
// value of each size to that many parked Gets.
//
// The agents' threads share this machine's cores with the store and the probing client, which
// a real job's agents (on other hosts) do not: --agent-nice 19 runs them at the lowest
// priority, so that the store and the probe get a core when they need one, as on a store host;
// --store-cpus K gives the store process, the probe and the watcher the first K CPUs and the
// agents the others, as a store host whose agents are elsewhere has its own cores.
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "rendezvous.h"
#include "round_liveness.h"
#include "store_endpoint.h"
#include "store_fanout.h"
#include "store_probe.h"
#include "store_process.h"
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

// What a running agent's liveness uses by default (spec defaults: heartbeat 1s, timeout 5s)
// and the workers per node it reads heartbeats of.
constexpr std::chrono::milliseconds kHeartbeat{1000};
constexpr std::chrono::milliseconds kHeartbeatTimeout{5000};
constexpr int kWorkersPerNode = 8;

struct Options {
  std::vector<int> agents{64, 256, 1024};
  int reps = 5;
  int last_call_ms = 100;
  int heartbeat_s = 5;
  int probe_ms = 5;
  int agent_nice = 0;  // the agents' threads' nice value (19: as if on other hosts)
  int store_cpus = 0;  // CPUs of the store and the probe alone (0: every thread shares all)
  std::string etcd;    // "": a StoreServer of its own
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
    if (!(one >> value) || !one.eof() || value < 0) return false;
    out->push_back(value);
  }
  return !out->empty();
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

// The CPUs this process may use, split into the store's (the first `store_cpus`) and the
// agents' (the rest).
struct CpuSplit {
  cpu_set_t store, agents;
};

train::Result<CpuSplit> SplitCpus(int store_cpus) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    return train::InternalError(std::string("sched_getaffinity: ") + std::strerror(errno));
  }
  CpuSplit split{};
  CPU_ZERO(&split.store);
  CPU_ZERO(&split.agents);
  int taken = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    CPU_SET(cpu, taken++ < store_cpus ? &split.store : &split.agents);
  }
  if (CPU_COUNT(&split.agents) == 0) {
    return train::InvalidArgumentError("--store-cpus " + std::to_string(store_cpus) +
                                       ": this process may use " + std::to_string(taken) +
                                       " CPUs, which leaves none for the agents; use fewer");
  }
  return split;
}

// Moves the calling thread (and the threads and processes it starts later) onto `cpus`.
void RunOn(const cpu_set_t& cpus) { sched_setaffinity(0, sizeof(cpus), &cpus); }

double Since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

struct RunResult {
  // After release: the last agent joined (the size claim is seen); the closer has read every
  // member record (it starts to write the round); its write of the round's record returned
  // (the server has handed it to every parked agent); every agent has its Round.
  double joined_s = -1, members_read_s = 0, closed_s = 0, done_s = 0;
  std::size_t record_bytes = 0;  // the round's record, which every agent receives
  // The unrelated client's round trips (ms) during the round, and during the heartbeats.
  std::vector<double> round_trips, heartbeat_trips;
  int probe_failures = 0;
  // The store process's CPU use, in cores (CPU seconds per second), during each phase: what a
  // store host spends, whatever the agents' threads here take from it (-1 for etcd).
  double round_cores = -1, heartbeat_cores = -1;
  double oldest_beat_ms = 0;  // the largest time since an agent's last accepted heartbeat
  std::int64_t looks = 0, looks_failed = 0;  // the agents' liveness reads
  std::string error;                // empty when every agent got a distinct rank in one round
  bench::StoreProfile all, closer;  // store calls of every agent; of the one that closed
};

RunResult Failed(std::string error) {
  RunResult r;
  r.error = std::move(error);
  return r;
}

// The store under test for one run: a fresh StoreServer, or a fresh prefix in etcd.
struct Backend {
  std::unique_ptr<bench::StoreProcess> server;
  bench::StoreOpener open;
};

// This program, which serves the store when run with --serve-store.
std::string SelfPath() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<std::size_t>(n)) : "bench_rendezvous_load";
}

train::Result<Backend> StartBackend(const Options& o, const std::string& run) {
  Backend backend;
  if (!o.etcd.empty()) {
    train::EtcdOptions etcd;
    etcd.endpoints = {o.etcd};
    etcd.key_prefix = "/bench-rendezvous/" + run + "/";
    TRAIN_RETURN_IF_ERROR(train::DeleteEtcdPrefix(etcd).status());
    backend.open = [etcd] { return train::ConnectEtcdStore(etcd); };
    return backend;
  }
  TRAIN_ASSIGN_OR_RETURN(std::string token, train::NewToken());
  // Served as a job's store is (trainctl run, agent --host-store), in a process of its own.
  TRAIN_ASSIGN_OR_RETURN(backend.server, bench::StoreProcess::Start(SelfPath(), token));
  const train::StoreAddress address{"127.0.0.1", backend.server->port()};
  backend.open = [address, token] { return train::ConnectStore(address, token); };
  return backend;
}

// What one agent does once it has its round, for `seconds`: heartbeats, a parked watch of the
// restart key, and at each interval the liveness read of its ring peers and its workers.
void KeepAlive(train::Store* store, const Round& round, int seconds, double* oldest_beat_ms,
               std::int64_t* looks, std::int64_t* failed) {
  using trainctl::agent::NodeHeartbeat;
  NodeHeartbeat heartbeat(store, round.node_rank, kHeartbeat, kHeartbeatTimeout);
  trainctl::agent::RestartWatch restart(store, "restart", kHeartbeat);
  const auto keys =
      trainctl::agent::LivenessKeys(round.node_rank, round.num_nodes(), kWorkersPerNode);
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  for (auto next = Clock::now(); next < end; next += kHeartbeat) {
    std::this_thread::sleep_until(next);
    *oldest_beat_ms =
        std::max(*oldest_beat_ms, static_cast<double>(heartbeat.SinceLastBeat().count()));
    ++*looks;
    auto seen = store->MultiGet(keys);
    if (!seen.ok() && ++*failed == 1) {
      std::fprintf(stderr, "  node %d: a liveness read failed: %s\n", round.node_rank,
                   seen.status().ToString().c_str());
    }
  }
}

RunResult RunRound(int n, int rep, const Options& o, const std::optional<CpuSplit>& cpus) {
  RunResult result;
  const std::string run = "load-" + std::to_string(n) + "-" + std::to_string(rep);
  // The store process, the probe and the watcher inherit this thread's CPUs.
  if (cpus) RunOn(cpus->store);
  auto backend = StartBackend(o, run);
  if (!backend.ok()) return Failed(backend.status().ToString());
  const bench::StoreOpener& open = backend->open;

  RendezvousConfig config;
  config.min_nodes = config.max_nodes = n;
  config.join_timeout = std::chrono::seconds(120);
  config.last_call = std::chrono::milliseconds(o.last_call_ms);

  std::vector<std::optional<Round>> rounds(static_cast<std::size_t>(n));
  std::vector<std::string> errors(static_cast<std::size_t>(n));
  std::vector<Clock::time_point> done(static_cast<std::size_t>(n));
  std::vector<bench::StoreProfile> profiles(static_cast<std::size_t>(n));
  std::vector<double> oldest(static_cast<std::size_t>(n));
  std::vector<std::int64_t> looks(static_cast<std::size_t>(n)), failed(static_cast<std::size_t>(n));
  std::atomic<bool> cancelled{false};
  Clock::time_point t0;
  // Agents connect and set up first; the barrier's completion starts the clock. A second one
  // starts the heartbeats once every agent has its round.
  std::barrier gate(n + 1, [&t0]() noexcept { t0 = Clock::now(); });
  std::barrier alive(n + 1);
  std::vector<std::thread> agents;
  agents.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    agents.emplace_back([&, i] {
      const auto k = static_cast<std::size_t>(i);
      // Per thread on Linux, and inherited by the threads it starts (heartbeat, watch).
      if (o.agent_nice != 0) setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), o.agent_nice);
      if (cpus) RunOn(cpus->agents);
      auto client = open();
      if (!client.ok()) errors[k] = client.status().ToString();
      gate.arrive_and_wait();
      if (client.ok()) {
        bench::TimingStore timed(client->get());
        Rendezvous rendezvous(&timed, config,
                              NodeInfo{"agent-" + std::to_string(i), "127.0.0.1", -1, 0, "bench",
                                       "127.0.0.1:" + std::to_string(20000 + i)});
        auto round = rendezvous.Join(0, cancelled);
        done[k] = Clock::now();
        profiles[k] = timed.profile();
        if (round.ok()) rounds[k] = *round;
        if (!round.ok()) errors[k] = round.status().ToString();
      }
      alive.arrive_and_wait();
      if (rounds[k] && o.heartbeat_s > 0) {
        KeepAlive(client->get(), *rounds[k], o.heartbeat_s, &oldest[k], &looks[k], &failed[k]);
      }
    });
  }
  {
    bench::KeyWatch joined(open, RoundKey(0, "size"));
    bench::RoundTripProbe probe(open, std::chrono::milliseconds(o.probe_ms));
    const double cpu0 = backend->server ? backend->server->CpuSeconds() : 0;
    gate.arrive_and_wait();
    // Every agent has its round (or gave up) once all arrive at the second barrier.
    alive.arrive_and_wait();
    result.round_trips = probe.Stop();
    if (backend->server) {
      result.round_cores = (backend->server->CpuSeconds() - cpu0) / Since(t0, Clock::now());
    }
    result.probe_failures = probe.failures();
    if (auto at = joined.Join()) result.joined_s = Since(t0, *at);
  }
  if (o.heartbeat_s > 0) {
    bench::RoundTripProbe probe(open, std::chrono::milliseconds(o.probe_ms));
    const double cpu0 = backend->server ? backend->server->CpuSeconds() : 0;
    const auto began = Clock::now();
    for (std::thread& t : agents) t.join();
    result.heartbeat_trips = probe.Stop();
    if (backend->server) {
      result.heartbeat_cores = (backend->server->CpuSeconds() - cpu0) / Since(began, Clock::now());
    }
    result.probe_failures += probe.failures();
  } else {
    for (std::thread& t : agents) t.join();
  }
  if (auto client = open(); client.ok()) {
    auto record = (*client)->TryGet(RoundKey(0, "closed"));
    if (record.ok() && record->has_value()) result.record_bytes = (*record)->size();
  }
  backend->server.reset();

  std::set<int> ranks;
  std::set<std::int64_t> ids;
  Clock::time_point last = t0;
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (!rounds[k]) return Failed("agent " + std::to_string(i) + ": " + errors[k]);
    ranks.insert(rounds[k]->node_rank);
    ids.insert(rounds[k]->id);
    if (rounds[k]->num_nodes() != n) {
      return Failed("agent " + std::to_string(i) + " got a round of " +
                    std::to_string(rounds[k]->num_nodes()) + " nodes");
    }
    last = std::max(last, done[k]);
    result.oldest_beat_ms = std::max(result.oldest_beat_ms, oldest[k]);
    result.looks += looks[k];
    result.looks_failed += failed[k];
  }
  if (ids.size() != 1) return Failed(std::to_string(ids.size()) + " different rounds");
  if (static_cast<int>(ranks.size()) != n || *ranks.begin() != 0 || *ranks.rbegin() != n - 1) {
    return Failed("node ranks are not 0.." + std::to_string(n - 1) + " each once");
  }
  // The closer reads every member record (one MultiGet of N keys) and writes every rank (the
  // MultiSet): the agent that made a MultiSet call.
  std::size_t closer = 0;
  const auto mset = static_cast<std::size_t>(bench::StoreCall::kMultiSet);
  for (std::size_t k = 0; k < profiles.size(); ++k) {
    for (std::size_t c = 0; c < result.all.size(); ++c) result.all[c].Add(profiles[k][c]);
    if (profiles[k][mset].count > profiles[closer][mset].count) closer = k;
  }
  result.closer = profiles[closer];
  // Close's MultiSet starts once the members are read; its last Set writes the round's record.
  const bench::CallStats& ranks_set = result.closer[mset];
  const bench::CallStats& set = result.closer[static_cast<std::size_t>(bench::StoreCall::kSet)];
  result.done_s = Since(t0, last);
  result.members_read_s = Since(t0, ranks_set.last_start);
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

// "p50 / p99 / max" of round trips in ms.
std::string Trips(const std::vector<double>& ms) {
  if (ms.empty()) return "n/a";
  char cell[64];
  std::snprintf(cell, sizeof(cell), "%.2f / %.2f / %.1f", bench::Quantile(ms, 0.5),
                bench::Quantile(ms, 0.99), *std::max_element(ms.begin(), ms.end()));
  return cell;
}

// The median of the store's CPU use in cores, "n/a" without samples (etcd).
std::string Cores(const std::vector<double>& cores) {
  if (cores.empty()) return "n/a";
  char cell[32];
  std::snprintf(cell, sizeof(cell), "%.2f", bench::Summarize(cores).median);
  return cell;
}

int main(int argc, char** argv) {
  // The store server's own process, which this program starts (StoreProcess).
  if (argc == 2 && std::string(argv[1]) == "--serve-store") return bench::ServeStore();
  Options o;
  CLI::App app(
      "Load on the rendezvous: N agents (threads here, each with its own store client and\n"
      "Rendezvous, as N agent processes would have) complete one round, min = max = N, against\n"
      "one store server on loopback in a process of its own (or etcd, --etcd); then keep it alive\n"
      "as running agents do (heartbeats, the ring's liveness reads, a parked watch of the restart\n"
      "key). Reports when the last agent joined, when the closing agent had read every member\n"
      "record and handed out the round, and when every agent had it; the round trip of one client\n"
      "that takes no part; the store's CPU; and checks that the agents got ranks 0..N-1, each\n"
      "once, in one round. Then one store call alone on an idle server, and the store handing one\n"
      "value to many parked Gets.",
      "bench_rendezvous_load");
  app.footer(R"(
Examples:
  bench_rendezvous_load --profile
  bench_rendezvous_load --agents 1024,4096 --reps 3 --profile
  bench/rendezvous_etcd.sh build -- --agents 64,256 --reps 3   # against an etcd of its own

Progress goes to stderr, tables to stdout. Exit status: 0 when done (failed runs are counted in
the tables), 2 on bad flags.)");
  std::string agents = "64,256,1024", fanout_bytes = "100,4096,69632";
  app.add_option("--agents", agents, "agents per round, comma-separated: one table row each")
      ->capture_default_str();
  app.add_option("--reps", o.reps, "rounds of each agent count")
      ->check(bench::Positive<int>())
      ->capture_default_str();
  app.add_option("--last-call-ms", o.last_call_ms, "the rendezvous' lastCall, ms")
      ->check(bench::NonNegative<int>())
      ->capture_default_str();
  app.add_flag("--profile", o.profile,
               "per agent count, the store calls the agents made in the round (last run)");
  app.add_option("--heartbeat-s", o.heartbeat_s,
                 "seconds of heartbeats after each round (0: none, and no heartbeat table)")
      ->check(bench::NonNegative<int>())
      ->capture_default_str();
  app.add_option("--probe-ms", o.probe_ms, "the other client's interval between TryGets, ms")
      ->check(bench::Positive<int>())
      ->capture_default_str();
  app.add_option("--agent-nice", o.agent_nice,
                 "nice value of the agents' threads (19: the store and the probe get a core "
                 "when they need one, as on a store host whose agents are elsewhere)")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  app.add_option("--store-cpus", o.store_cpus,
                 "CPUs for the store process and the probing client alone, the agents' threads "
                 "on the others (0: all share every CPU)")
      ->check(bench::NonNegative<int>())
      ->capture_default_str();
  app.add_option("--etcd", o.etcd,
                 "an etcd member's HOST:PORT to run against, instead of a store server of its "
                 "own (then without the round-trip and fan-out tables)");
  app.add_option("--fanout-bytes", fanout_bytes,
                 "bytes of the values the store hands to the parked Gets, comma-separated")
      ->capture_default_str();
  app.add_option("--fanout-waiters", o.fanout_waiters,
                 "parked Gets per value (0: no round-trip and fan-out tables)")
      ->check(bench::NonNegative<int>())
      ->capture_default_str();
  if (auto exit = bench::ParseCommandLine(app, argc, argv, [&] {
        if (!ParseInts(agents, &o.agents)) {
          throw CLI::ValidationError("--agents " + agents +
                                     ": want counts like 64,256,1024 (whole numbers >= 0)");
        }
        if (!ParseInts(fanout_bytes, &o.fanout_bytes)) {
          throw CLI::ValidationError("--fanout-bytes " + fanout_bytes +
                                     ": want sizes like 100,4096,69632 (whole numbers >= 0)");
        }
      })) {
    return *exit;
  }
  std::optional<CpuSplit> cpus;
  if (o.store_cpus > 0) {
    auto split = SplitCpus(o.store_cpus);
    if (!split.ok()) {
      std::fprintf(stderr, "bench_rendezvous_load: %s\n", split.status().ToString().c_str());
      return 2;
    }
    cpus = *split;
  }
  const rlim_t files = RaiseFileLimit();
  const std::string store =
      o.etcd.empty() ? "one StoreServer on loopback (a process of its own)" : "etcd at " + o.etcd;
  std::printf(
      "#\n# Rendezvous load: N agents (threads, one store client and Rendezvous each) "
      "complete one round, min = max = N,\n# against %s; lastCall %d ms; open-file limit "
      "%llu; agents at nice %d; %s\n",
      store.c_str(), o.last_call_ms, static_cast<unsigned long long>(files), o.agent_nice,
      cpus ? ("store and probe on " + std::to_string(CPU_COUNT(&cpus->store)) +
              " CPU(s), agents on " + std::to_string(CPU_COUNT(&cpus->agents)))
                 .c_str()
           : "every thread on every CPU");
  std::printf(
      "# seconds after the agents are released, median [min, max] of %d runs; round "
      "trip of one other client\n# (a TryGet every %d ms) during the rounds, all runs "
      "pooled\n",
      o.reps, o.probe_ms);
  std::printf("# %6s %22s %22s %22s %22s %7s %22s %10s %6s %s\n", "agents", "last joined",
              "members read", "record handed out", "every agent has it", "record",
              "other client p50/p99/max ms", "store cores", "failed", "check");
  std::vector<std::pair<int, std::vector<RunResult>>> all_runs;
  for (int n : o.agents) {
    std::vector<double> joined, read, closed, done, trips, cores;
    int failed = 0;
    std::string first_error;
    std::vector<RunResult> runs;
    for (int rep = 0; rep < o.reps; ++rep) {
      RunResult r = RunRound(n, rep, o, cpus);
      if (!r.error.empty()) {
        ++failed;
        if (first_error.empty()) first_error = r.error;
        std::fprintf(stderr, "  %d agents run %d: FAILED: %s\n", n, rep + 1, r.error.c_str());
        continue;
      }
      std::fprintf(stderr, "  %d agents run %d: %.3f s\n", n, rep + 1, r.done_s);
      if (r.joined_s >= 0) joined.push_back(r.joined_s);
      read.push_back(r.members_read_s);
      closed.push_back(r.closed_s);
      done.push_back(r.done_s);
      trips.insert(trips.end(), r.round_trips.begin(), r.round_trips.end());
      if (r.round_cores >= 0) cores.push_back(r.round_cores);
      runs.push_back(std::move(r));
    }
    char record[32];
    std::snprintf(record, sizeof(record), "%zuB", runs.empty() ? 0 : runs.back().record_bytes);
    std::printf("  %6d %22s %22s %22s %22s %7s %27s %10s %6d %s\n", n,
                bench::Cell(bench::Summarize(joined), 3).c_str(),
                bench::Cell(bench::Summarize(read), 3).c_str(),
                bench::Cell(bench::Summarize(closed), 3).c_str(),
                bench::Cell(bench::Summarize(done), 3).c_str(), record, Trips(trips).c_str(),
                Cores(cores).c_str(), failed,
                failed == 0 ? "ok: ranks 0..N-1 once each, one round" : first_error.c_str());
    if (o.profile && !runs.empty()) PrintProfile(n, runs.back());
    std::fflush(stdout);
    all_runs.emplace_back(n, std::move(runs));
  }
  if (o.heartbeat_s > 0) {
    std::printf(
        "#\n# Then %d s of what running agents do: a heartbeat every %lld ms (ttl %lld ms), "
        "a parked watch of the\n# restart key, and each interval one read of the "
        "heartbeats of 2 ring peers and %d workers; all runs pooled\n",
        o.heartbeat_s, static_cast<long long>(kHeartbeat.count()),
        static_cast<long long>(kHeartbeatTimeout.count()), kWorkersPerNode);
    std::printf("# %6s %27s %22s %24s %14s %12s\n", "agents", "other client p50/p99/max ms",
                "oldest heartbeat ms", "liveness reads failed", "probe failed", "store cores");
    for (const auto& [n, runs] : all_runs) {
      std::vector<double> trips, cores;
      double oldest = 0;
      std::int64_t looks = 0, looks_failed = 0;
      int probe_failed = 0;
      for (const RunResult& r : runs) {
        trips.insert(trips.end(), r.heartbeat_trips.begin(), r.heartbeat_trips.end());
        oldest = std::max(oldest, r.oldest_beat_ms);
        looks += r.looks;
        looks_failed += r.looks_failed;
        probe_failed += r.probe_failures;
        if (r.heartbeat_cores >= 0) cores.push_back(r.heartbeat_cores);
      }
      char reads[48];
      std::snprintf(reads, sizeof(reads), "%lld of %lld", static_cast<long long>(looks_failed),
                    static_cast<long long>(looks));
      std::printf("  %6d %27s %22.0f %24s %14d %12s\n", n, Trips(trips).c_str(), oldest, reads,
                  probe_failed, Cores(cores).c_str());
    }
    std::fflush(stdout);
  }
  if (o.etcd.empty() && o.fanout_waiters > 0) FanoutTable(o);
  return 0;
}
