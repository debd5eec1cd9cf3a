#include "launcher_harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace launcher_test {

using Clock = std::chrono::steady_clock;

Process::Process(std::vector<std::string> argv, std::string output_file)
    : output_file_(std::move(output_file)) {
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(output_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    execv(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (!exit_code_) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Process::Signal(int signal) {
  if (!exit_code_) kill(pid_, signal);
}

std::string Process::Output() const {
  std::ifstream in(output_file_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Process::WaitForOutput(const std::string& text, std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (Output().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string WriteJob(const ScratchDir& dir, const std::string& name,
                     const std::vector<std::string>& command, const std::string& extra_spec) {
  std::string yaml =
      "apiVersion: trainctl.dev/v1alpha1\n"
      "kind: TrainingJob\n"
      "metadata: {name: " +
      name +
      "}\n"
      "spec:\n"
      "  command: [";
  for (std::size_t i = 0; i < command.size(); ++i) {
    yaml += (i ? ", \"" : "\"") + command[i] + "\"";
  }
  yaml +=
      "]\n"
      "  rendezvous: {joinTimeout: 30s, lastCall: 300ms, heartbeat: 100ms, "
      "heartbeatTimeout: 800ms}\n" +
      extra_spec;
  const std::string path = dir / (name + ".yaml");
  std::ofstream(path) << yaml;
  return path;
}

std::string Trainctl() { return TRAINCTL_BINARY; }
std::string TestWorker() { return TEST_WORKER_BINARY; }

std::string WriteToken(const ScratchDir& dir, const std::string& name, const std::string& token) {
  const std::string path = dir / name;
  std::ofstream(path) << token << "\n";
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  return path;
}

std::vector<std::string> AgentArgs(const std::string& job, int port, const std::string& token,
                                   int node, const std::string& run_dir, bool host_store) {
  std::vector<std::string> args = {Trainctl(),
                                   "agent",
                                   job,
                                   "--store",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--token-file",
                                   token,
                                   "--node-rank",
                                   std::to_string(node),
                                   "--run-dir",
                                   run_dir};
  if (host_store) args.push_back("--host-store");
  return args;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool Alive(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  // A zombie (exited, not yet reaped by a dead parent's reaper) counts as gone.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const std::size_t close = line.rfind(')');
  return close == std::string::npos || line.size() < close + 3 || line[close + 2] != 'Z';
}

std::vector<pid_t> WaitForPids(const fs::path& dir, int count, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::vector<pid_t> pids;
    for (int rank = 0; rank < count; ++rank) {
      std::ifstream in(dir / ("rank-" + std::to_string(rank) + ".pid"));
      pid_t pid = 0;
      if (in >> pid) pids.push_back(pid);
    }
    if (static_cast<int>(pids.size()) == count) return pids;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

}  // namespace launcher_test
