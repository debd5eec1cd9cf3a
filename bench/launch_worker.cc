// The trivial worker that bench_launch starts under trainctl and under torchrun: it joins the
// job (train::Worker::Init), passes one Barrier, and records when, so that the launchers are
// timed on the same program.
//
//   bench_launch_worker --out DIR [--fail-first] [--hold-ms N]
//
// Each event appends one line "<event> <rank> <restart> <CLOCK_REALTIME ns>" to DIR/events:
//   start  main() entered (the launcher's spawn is done, the dynamic loader has run)
//   init   Worker::Init returned (store reached, heartbeats on)
//   ready  the first Barrier returned: every rank of this attempt is up
//   fail   rank 0 is about to exit 1 (--fail-first, first attempt only)
// With --fail-first, the other ranks of the first attempt stay up until their launcher stops
// them, as the survivors of a crash mid-training would. --hold-ms keeps every rank alive for a
// while after the barrier, so that a launcher's memory is seen in its steady state.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "train/log.h"
#include "train/worker.h"

namespace {

struct Flags {
  std::string out_dir;
  bool fail_first = false;
  long hold_ms = 0;
};

constexpr char kUsage[] = "usage: bench_launch_worker --out DIR [--fail-first] [--hold-ms N]\n";

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--fail-first") {
      flags->fail_first = true;
    } else if (arg == "--out" && i + 1 < argc) {
      flags->out_dir = argv[++i];
    } else if (arg == "--hold-ms" && i + 1 < argc) {
      std::string_view value = argv[++i];
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), flags->hold_ms);
      if (ec != std::errc() || end != value.data() + value.size() || flags->hold_ms < 0) {
        return false;
      }
    } else {
      return false;
    }
  }
  return !flags->out_dir.empty();
}

// Set by a rank of the failing attempt once its barrier returned.
std::string ReadyKey(int rank) { return "bench/ready/" + std::to_string(rank); }

long long RealtimeNanos() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// One write(2) per line on an O_APPEND file: lines of concurrent ranks never interleave.
class EventLog {
 public:
  explicit EventLog(const std::string& dir)
      : fd_(::open((dir + "/events").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {}
  ~EventLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  bool ok() const { return fd_ >= 0; }

  void Record(const char* event, int rank, int restart, long long nanos) const {
    char line[128];
    int n = std::snprintf(line, sizeof(line), "%s %d %d %lld\n", event, rank, restart, nanos);
    if (n > 0 && ::write(fd_, line, static_cast<std::size_t>(n)) != n) {
      std::fprintf(stderr, "bench_launch_worker: cannot record %s: %s\n", event,
                   std::strerror(errno));
    }
  }

 private:
  int fd_;
};

}  // namespace

int main(int argc, char** argv) {
  const long long started = RealtimeNanos();
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  EventLog events(flags.out_dir);
  if (!events.ok()) {
    std::fprintf(stderr, "bench_launch_worker: cannot open %s/events: %s\n", flags.out_dir.c_str(),
                 std::strerror(errno));
    return 2;
  }
  auto worker = train::Worker::Init();
  if (!worker.ok()) {
    train::LogError(worker.status().ToString());
    return 3;
  }
  const int rank = (*worker)->rank();
  const int restart = (*worker)->env().restart_count;
  events.Record("start", rank, restart, started);
  events.Record("init", rank, restart, RealtimeNanos());
  if (train::Status barrier = (*worker)->Barrier(); !barrier.ok()) {
    train::LogError(barrier.ToString());
    return 4;
  }
  events.Record("ready", rank, restart, RealtimeNanos());

  if (flags.fail_first && restart == 0) {
    // Rank 0 fails only once every other rank has its barrier reply: under torchrun it hosts
    // the store, and dying sooner would cut off replies still on their way.
    train::Store* store = (*worker)->store();
    if (rank == 0) {
      std::vector<std::string> keys;
      for (int r = 1; r < (*worker)->world_size(); ++r) keys.push_back(ReadyKey(r));
      if (train::Status all = store->Wait(keys, std::chrono::seconds(60)); !all.ok()) {
        train::LogError(all.ToString());
      }
      events.Record("fail", rank, restart, RealtimeNanos());
      std::_Exit(1);  // a crash: no orderly shutdown of the store or the heartbeats
    }
    (void)store->Set(ReadyKey(rank), "1");
    // Survivors wait for their launcher to stop them (SIGTERM); a minute at most.
    std::this_thread::sleep_for(std::chrono::minutes(1));
    return 5;
  }
  if (flags.hold_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(flags.hold_ms));
  return 0;
}
