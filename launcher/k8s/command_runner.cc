#include "command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

extern char** environ;

namespace trainctl::k8s {
namespace {

// Both ends close on exec; the child gets its ends through posix_spawn's file actions.
struct Pipe {
  int read = -1;
  int write = -1;
  bool Open() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return false;
    read = fds[0];
    write = fds[1];
    return true;
  }
  void CloseRead() {
    if (read >= 0) close(read);
    read = -1;
  }
  void CloseWrite() {
    if (write >= 0) close(write);
    write = -1;
  }
  ~Pipe() {
    CloseRead();
    CloseWrite();
  }
};

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& arg : argv) out.push_back(const_cast<char*>(arg.c_str()));
  out.push_back(nullptr);
  return out;
}

train::Status SpawnError(const std::string& program, int error) {
  if (error == ENOENT) return train::NotFoundError(program + " was not found on PATH");
  return train::UnavailableError("cannot start " + program + ": " + std::strerror(error));
}

int WaitExitCode(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Spawns argv with the given fds as its stdin/stdout/stderr (-1: inherit).
train::Result<pid_t> Spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in >= 0) posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
  if (out >= 0) posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  if (err >= 0) posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
  pid_t pid = -1;
  std::vector<char*> args = Argv(argv);
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return SpawnError(argv[0], rc);
  return pid;
}

}  // namespace

train::Result<CommandOutput> RunCapture(const std::vector<std::string>& argv,
                                        const std::string& input) {
  Pipe in, out, err;
  if (!in.Open() || !out.Open() || !err.Open()) {
    return train::UnavailableError(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  // A child that exits before reading all its input must not kill us with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  auto pid = Spawn(argv, in.read, out.write, err.write);
  if (!pid.ok()) return pid.status();
  in.CloseRead();
  out.CloseWrite();
  err.CloseWrite();
  fcntl(in.write, F_SETFL, O_NONBLOCK);

  CommandOutput result;
  std::size_t written = 0;
  if (input.empty()) in.CloseWrite();
  char buffer[65536];
  while (out.read >= 0 || err.read >= 0) {
    pollfd fds[3] = {{out.read, POLLIN, 0}, {err.read, POLLIN, 0}, {in.write, POLLOUT, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) {
      const ssize_t n = write(in.write, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 && errno != EAGAIN) written = input.size();  // the child closed its stdin
      if (written == input.size()) in.CloseWrite();
    }
    Pipe* sources[2] = {&out, &err};
    std::string* sinks[2] = {&result.out, &result.err};
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t n = read(sources[i]->read, buffer, sizeof(buffer));
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        sources[i]->CloseRead();
      }
    }
  }
  in.CloseWrite();
  result.exit_code = WaitExitCode(*pid);
  return result;
}

train::Result<int> RunLines(const std::vector<std::string>& argv,
                            const std::function<void(std::string_view line)>& on_line) {
  Pipe out;
  if (!out.Open()) {
    return train::UnavailableError(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  auto pid = Spawn(argv, -1, out.write, -1);
  if (!pid.ok()) return pid.status();
  out.CloseWrite();
  std::string pending;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(out.read, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buffer, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      on_line(std::string_view(pending).substr(start, end - start));
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) on_line(pending);
  return WaitExitCode(*pid);
}

}  // namespace trainctl::k8s
