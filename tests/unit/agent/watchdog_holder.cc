// Test program: a launcher stand-in. Starts the job watchdog (argv[1]: "cgroup" or "session"),
// then a worker group running the shell script argv[3] in argv[2] workers, prints "ready", the
// watchdog's pid and how processes are tracked on one line, and waits to be killed (or, with
// argv[4] "exit", returns once the workers ended). The watchdog tests kill it and look for what
// survived.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "job_watchdog.h"
#include "terminal.h"
#include "worker_group.h"

int main(int argc, char** argv) {
  using namespace trainctl::agent;
  if (argc < 4) {
    std::fprintf(stderr, "usage: watchdog_holder cgroup|session WORKERS SCRIPT [exit]\n");
    return 2;
  }
  JobWatchdogOptions options;
  options.use_cgroup = std::string(argv[1]) == "cgroup";
  auto watchdog = JobWatchdog::Start(options);
  if (!watchdog.ok()) {
    std::fprintf(stderr, "watchdog_holder: %s\n", watchdog.status().ToString().c_str());
    return 1;
  }
  std::vector<WorkerSpec> specs;
  for (int rank = 0; rank < std::atoi(argv[2]); ++rank) {
    WorkerSpec spec;
    spec.rank = rank;
    spec.argv = {"/bin/sh", "-c", argv[3]};
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    specs.push_back(std::move(spec));
  }
  Terminal terminal(stderr, /*is_tty=*/false);
  auto group = WorkerGroup::Start(std::move(specs), &terminal);
  if (!group.ok()) {
    std::fprintf(stderr, "watchdog_holder: %s\n", group.status().ToString().c_str());
    return 1;
  }
  std::printf("ready %d %s\n", static_cast<int>((*watchdog)->pid()),
              (*watchdog)->cgroup_dir().empty() ? "session" : (*watchdog)->cgroup_dir().c_str());
  std::fflush(stdout);
  if (argc > 4 && std::string(argv[4]) == "exit") {
    while ((*group)->WaitAny(std::chrono::seconds(10))) {
    }
    return 0;
  }
  while (true) ::pause();
}
