// Test program: starts a worker group of N `sleep 100` workers, prints their pids on one line,
// and waits to be killed. The worker group tests kill it with SIGKILL and check that its
// workers died with it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "terminal.h"
#include "worker_group.h"

int main(int argc, char** argv) {
  using trainctl::agent::Terminal;
  using trainctl::agent::WorkerGroup;
  using trainctl::agent::WorkerSpec;

  int count = argc > 1 ? std::atoi(argv[1]) : 1;
  std::vector<WorkerSpec> specs;
  for (int rank = 0; rank < count; ++rank) {
    WorkerSpec spec;
    spec.rank = rank;
    spec.argv = {"sleep", "100"};
    spec.env = {{"PATH", "/bin"}};
    specs.push_back(std::move(spec));
  }
  Terminal terminal(stderr, /*is_tty=*/false);
  auto group = WorkerGroup::Start(std::move(specs), &terminal);
  if (!group.ok()) {
    std::fprintf(stderr, "group_holder: %s\n", group.status().ToString().c_str());
    return 1;
  }
  std::string pids;
  for (pid_t pid : (*group)->pids()) pids += std::to_string(pid) + " ";
  std::printf("%s\n", pids.c_str());
  std::fflush(stdout);
  while (true) ::pause();
}
