#include "store_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "store_endpoint.h"
#include "train/store.h"

extern char** environ;

namespace bench {

train::Result<std::unique_ptr<StoreProcess>> StoreProcess::Start(const std::string& program,
                                                                 const std::string& token) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    return train::InternalError("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  std::string flag = "--serve-store";
  char* argv[] = {const_cast<char*>(program.c_str()), flag.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  if (spawned != 0) {
    close(in[1]);
    close(out[0]);
    return train::InternalError("cannot start " + program + " --serve-store");
  }
  const std::string line = token + "\n";
  (void)!write(in[1], line.data(), line.size());
  std::string answer;
  char c = 0;
  while (read(out[0], &c, 1) == 1 && c != '\n') answer += c;
  close(out[0]);
  int port = 0;
  if (std::sscanf(answer.c_str(), "port %d", &port) != 1) {
    close(in[1]);
    waitpid(pid, nullptr, 0);
    return train::InternalError("the store process said \"" + answer + "\", not its port");
  }
  return std::unique_ptr<StoreProcess>(new StoreProcess(pid, in[1], port));
}

double StoreProcess::CpuSeconds() const {
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name (which ends with the last ')'): utime and stime are the
  // 12th and 13th, in clock ticks.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 1; i <= 13 && fields >> field; ++i) {
    if (i >= 12) ticks += std::atof(field.c_str());
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

StoreProcess::~StoreProcess() {
  close(stdin_fd_);
  waitpid(pid_, nullptr, 0);
}

int ServeStore() {
  std::string token;
  if (!std::getline(std::cin, token)) return 2;
  // A store host's agent raises its open-file limit the same way (one descriptor per client).
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  auto server =
      train::StoreServer::Start(trainctl::agent::JobStoreServerOptions("127.0.0.1", 0, token));
  if (!server.ok()) {
    std::printf("error %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("port %d\n", (*server)->port());
  std::fflush(stdout);
  char c;
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  (*server)->Stop();
  return 0;
}

}  // namespace bench
