// Finding a test's processes by a marker in their command line ("sleep 301.<token>"), wherever
// they moved (another session, re-parented to init), and killing them at the end of a test.
#ifndef TRAINCTL_TESTS_UNIT_AGENT_PROCESS_MARKER_H_
#define TRAINCTL_TESTS_UNIT_AGENT_PROCESS_MARKER_H_

#include <dirent.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace trainctl::agent::testing {

// A token unique to one test: the processes it starts carry "NNN.<token>" as an argument.
inline std::string NewMarkerToken() {
  std::random_device device;
  return std::to_string(100000 + device() % 900000) + std::to_string(device() % 1000);
}

// Live processes with an argument "NNN.<token>" (zombies have no command line).
inline std::vector<pid_t> MarkedProcesses(const std::string& token) {
  std::vector<pid_t> found;
  const std::string suffix = "." + token;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string cmdline;
    try {
      std::ifstream in(std::string("/proc/") + entry->d_name + "/cmdline", std::ios::binary);
      cmdline.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
      continue;  // the process exited while it was read (ESRCH)
    }
    std::size_t start = 0;
    while (start < cmdline.size()) {
      std::size_t stop = cmdline.find('\0', start);
      if (stop == std::string::npos) stop = cmdline.size();
      std::string arg = cmdline.substr(start, stop - start);
      // Only "NNN.<token>" itself: not a shell whose script mentions it.
      if (arg.size() > suffix.size() &&
          arg.compare(arg.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          arg.find_first_not_of("0123456789") == arg.size() - suffix.size()) {
        found.push_back(static_cast<pid_t>(pid));
        break;
      }
      start = stop + 1;
    }
  }
  ::closedir(proc);
  return found;
}

// Polls until `count` marked processes run (at least); false at the deadline.
inline bool WaitForMarked(const std::string& token, std::size_t count,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (MarkedProcesses(token).size() < count) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Polls until no marked process is left; returns those left at the deadline.
inline std::vector<pid_t> WaitMarkedGone(const std::string& token,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::vector<pid_t> left = MarkedProcesses(token);
    if (left.empty() || std::chrono::steady_clock::now() >= deadline) return left;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Kills every marked process (a test's cleanup, also when it failed).
inline void KillMarked(const std::string& token) {
  for (int pass = 0; pass < 20; ++pass) {
    std::vector<pid_t> left = MarkedProcesses(token);
    if (left.empty()) return;
    for (pid_t pid : left) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace trainctl::agent::testing

#endif  // TRAINCTL_TESTS_UNIT_AGENT_PROCESS_MARKER_H_
