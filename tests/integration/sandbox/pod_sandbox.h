// "Pods" on one machine, for the tests of a job that spans hosts (the Kubernetes pods, the
// multi-host collectives): each with its own network namespace and address on a private
// bridge (10.200.0.0/24), its own hostname, IPC namespace, /dev/shm and /run, and an
// /etc/hosts that plays the cluster DNS (`<job>-<index>.<job>` names). Without the right to
// create network namespaces the pods share the host's network and differ by loopback address
// (127.0.0.x) instead, still with their own /etc/hosts (a mount namespace).
//
// Everything created (namespaces, links, /etc/netns/<ns>, processes) is removed by the
// destructor, also when a test fails; names carry this process's id, so runs do not collide,
// and what a killed run left behind (its process is gone) is removed by the next run.
#ifndef TRAIN_TESTS_INTEGRATION_SANDBOX_POD_SANDBOX_H_
#define TRAIN_TESTS_INTEGRATION_SANDBOX_POD_SANDBOX_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pod_sandbox {

class PodCluster {
 public:
  enum class Mode { kNetworkNamespaces, kLoopbackAliases };

  // The best mode this machine allows; nullptr (and `why_not`) when neither works.
  static std::unique_ptr<PodCluster> Create(std::string* why_not);
  ~PodCluster();

  Mode mode() const { return mode_; }
  std::string ModeDescription() const;

  // A new pod sandbox with the next free address; returns its address.
  std::string AddSandbox(const std::string& sandbox);
  // The cluster DNS: name -> address, written into every sandbox's /etc/hosts in place (a
  // running process sees the change on its next lookup).
  void SetDns(const std::map<std::string, std::string>& records);
  // Starts `script` (/bin/sh) in the sandbox with hostname `hostname`; output to `log`.
  pid_t Start(const std::string& sandbox, const std::string& hostname, const std::string& script,
              const std::string& log);
  // SIGKILLs every process of the sandbox and waits until none is left.
  void KillAll(const std::string& sandbox);
  // Kills and removes the sandbox (its address goes away with it).
  void Remove(const std::string& sandbox);
  // The exit code of a started process (128+signal), or nullopt while it runs at `timeout`.
  std::optional<int> Wait(pid_t pid, std::chrono::milliseconds timeout);

 private:
  struct Sandbox {
    std::string address;
    std::string hosts_file;
    std::string veth;          // the pod's link on the bridge (network namespace mode)
    std::vector<pid_t> roots;  // processes started in it
  };
  PodCluster(Mode mode, std::string tag);
  std::vector<pid_t> Processes(const Sandbox& sandbox, const std::string& name) const;
  void WriteHosts(const Sandbox& sandbox);

  Mode mode_;
  std::string tag_;  // unique per test process, in every name created
  std::string bridge_;
  std::string scratch_;  // hosts files in loopback mode
  int next_host_ = 10;
  std::map<std::string, Sandbox> sandboxes_;
  std::map<std::string, std::string> dns_;
  std::map<pid_t, int> exited_;
};

// Runs a command line through /bin/sh; its exit status and output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command);

std::string ReadFile(const std::string& path);

}  // namespace pod_sandbox

#endif  // TRAIN_TESTS_INTEGRATION_SANDBOX_POD_SANDBOX_H_
