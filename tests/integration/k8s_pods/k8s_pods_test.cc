// The agents of an Indexed Job's pods as a multi-host job: three "pods" (pod_sandbox.h), each
// running `trainctl agent` with the args and env of the Kubernetes contract (docs/launcher.md,
// "In a Kubernetes pod"); read from `trainctl render`'s Job when this build has it.
//
// Pod 1 starts before pod 0's name resolves (pod DNS lags pod start) and must wait for it. The
// job trains with checkpoints; mid-training every process of pod 0 (the store's host) is
// SIGKILLed and pod 0 comes back with a new address, as Kubernetes replaces a pod. The
// survivors reconnect, a new round forms, the workers resume from the checkpoint, and the
// job ends with the values an uninterrupted run computes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "pod_sandbox.h"

namespace k8s_pods_test {
namespace {

namespace fs = std::filesystem;
using pod_sandbox::CommandResult;
using pod_sandbox::PodCluster;
using pod_sandbox::ReadFile;
using pod_sandbox::RunCommand;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kJob[] = "pods";
constexpr int kNodes = 3;
constexpr int kSteps = 40;

// The container of the pods, as the Job's pod template gives it.
struct Container {
  std::vector<std::string> command;
  std::vector<std::string> args;
  // name -> value; the completion index stands for a fieldRef to it.
  std::vector<std::pair<std::string, std::string>> env;
  std::string source;  // where this came from, for the test's output
};

constexpr char kCompletionIndex[] = "<job-completion-index>";
constexpr char kFieldPrefix[] = "<field>";  // then the fieldPath of another fieldRef

// The contract (docs/launcher.md) written out, for a build without `trainctl render`.
Container ContractContainer(int port) {
  Container c;
  c.command = {"trainctl", "agent"};
  const std::string job = kJob;
  c.args = {"/etc/trainctl/spec/job.yaml",
            "--store",
            job + "-0." + job + ":" + std::to_string(port),
            "--node-rank",
            "$(TRAINCTL_NODE_RANK)",
            "--host-store",
            "auto",
            "--token-file",
            "/etc/trainctl/token/token",
            "--run-dir",
            "/var/run/trainctl"};
  c.env = {{"TRAINCTL_NODE_RANK", kCompletionIndex}, {"TRAINCTL_JOB_NAME", job}};
  c.source = "the contract's args and env (this build has no `trainctl render`)";
  return c;
}

// The trainer container of the Indexed Job that `trainctl render` writes for `job_file`.
std::optional<Container> RenderedContainer(const std::string& job_file, std::string* problem) {
  if (RunCommand(std::string(TRAINCTL_BINARY) + " render --help").status != 0) return std::nullopt;
  CommandResult rendered = RunCommand(std::string(TRAINCTL_BINARY) + " render " + job_file);
  if (rendered.status != 0) {
    *problem = "trainctl render failed: " + rendered.output;
    return std::nullopt;
  }
  try {
    for (const YAML::Node& doc : YAML::LoadAll(rendered.output)) {
      if (!doc.IsMap() || doc["kind"].as<std::string>("") != "Job") continue;
      const YAML::Node containers = doc["spec"]["template"]["spec"]["containers"];
      YAML::Node trainer = containers[0];
      for (const YAML::Node& candidate : containers) {
        if (candidate["command"] && candidate["command"][0].as<std::string>() == "trainctl") {
          trainer = candidate;
        }
      }
      Container c;
      c.command = trainer["command"].as<std::vector<std::string>>();
      c.args = trainer["args"].as<std::vector<std::string>>();
      for (const YAML::Node& var : trainer["env"]) {
        const std::string name = var["name"].as<std::string>();
        if (var["value"]) {
          c.env.emplace_back(name, var["value"].as<std::string>());
        } else if (var["valueFrom"]["fieldRef"]) {
          const std::string path = var["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>("");
          c.env.emplace_back(name, path.find("job-completion-index") != std::string::npos
                                       ? std::string(kCompletionIndex)
                                       : kFieldPrefix + path);
        } else {
          *problem = "env " + name + " of the rendered Job comes from something this test " +
                     "cannot provide: " + YAML::Dump(var);
          return std::nullopt;
        }
      }
      c.source = "the args and env of the Job that `trainctl render` wrote";
      return c;
    }
  } catch (const YAML::Exception& e) {
    *problem = std::string("cannot read trainctl render's output: ") + e.what();
    return std::nullopt;
  }
  *problem = "trainctl render wrote no Job";
  return std::nullopt;
}

// `value` quoted for /bin/sh.
std::string Quote(const std::string& value) {
  std::string out = "'";
  for (char ch : value) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// Kubernetes' $(VAR) expansion of an arg from the container's env.
std::string Expand(std::string arg, const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env) {
    const std::string reference = "$(" + name + ")";
    for (std::size_t at; (at = arg.find(reference)) != std::string::npos;) {
      arg.replace(at, reference.size(), value);
    }
  }
  return arg;
}

// The values the workers compute when nothing goes wrong (pods_worker.cc, world size kNodes).
std::string ExpectedFinal() {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    float value = 0.0f;
    for (int step = 1; step <= kSteps; ++step) {
      float sum = 0.0f;
      for (int rank = 0; rank < kNodes; ++rank) sum += static_cast<float>((step + i + rank) % 7);
      value = std::fmod(value * 3.0f + sum, 1009.0f);
    }
    out += (i ? " " : "") + std::to_string(static_cast<long long>(value));
  }
  return out + "\n";
}

bool WaitForText(const std::string& file, const std::string& text, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (ReadFile(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

class KubernetesPods : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "k8s-pods-XXXXXX").string();
    scratch_ = mkdtemp(pattern.data());
    std::string why_not;
    cluster_ = PodCluster::Create(&why_not);
    if (cluster_ == nullptr) GTEST_SKIP() << "cannot make pods on this machine: " << why_not;
    std::cout << "[   pods   ] " << cluster_->ModeDescription() << std::endl;
  }

  void TearDown() override {
    cluster_.reset();  // kills every pod, removes namespaces, links and /etc/netns entries
    std::error_code ignored;
    fs::remove_all(scratch_, ignored);
  }

  std::string Path(const std::string& name) const { return (scratch_ / name).string(); }

  // The cluster DNS for the pods that exist: `<job>-<k>.<job>` and the full service names.
  void PublishDns() {
    std::map<std::string, std::string> records;
    for (const auto& [index, address] : pod_addresses_) {
      const std::string host = std::string(kJob) + "-" + std::to_string(index);
      records[host + "." + kJob] = address;
      records[host + "." + kJob + ".default.svc"] = address;
      records[host + "." + kJob + ".default.svc.cluster.local"] = address;
    }
    cluster_->SetDns(records);
  }

  // Starts pod `index` in sandbox `sandbox`: the spec and token mounted as the Job mounts
  // them, then the container's command with its args and env.
  pid_t StartPod(const std::string& sandbox, int index, const std::string& log) {
    std::map<std::string, std::string> env;
    std::string env_words;
    const std::string pod_name = std::string(kJob) + "-" + std::to_string(index);
    // The downward API, as the kubelet fills it in for this pod.
    const std::map<std::string, std::string> fields = {{"metadata.name", pod_name + "-" + sandbox},
                                                       {"metadata.namespace", "default"},
                                                       {"spec.nodeName", "node-" + sandbox},
                                                       {"status.podIP", pod_addresses_.at(index)},
                                                       {"status.hostIP", pod_addresses_.at(index)}};
    for (const auto& [name, value] : container_.env) {
      if (value == kCompletionIndex) {
        env[name] = std::to_string(index);
      } else if (value.rfind(kFieldPrefix, 0) == 0) {
        const std::string path = value.substr(std::string(kFieldPrefix).size());
        EXPECT_EQ(fields.count(path), 1u)
            << "the rendered Job's env " << name
            << " comes from a field this test does not fill in: " << path;
        env[name] = fields.count(path) ? fields.at(path) : "";
      } else {
        env[name] = value;
      }
    }
    for (const auto& [name, value] : env) env_words += " " + Quote(name + "=" + value);
    std::string command_words;
    for (const std::string& word : container_.command) command_words += " " + Quote(word);
    for (const std::string& arg : container_.args) command_words += " " + Quote(Expand(arg, env));
    const std::string path = fs::path(TRAINCTL_BINARY).parent_path().string() + ":/usr/bin:/bin";
    const std::string script =
        "set -e; mount -t tmpfs -o size=1m trainctl /etc/trainctl; "
        "mkdir -p /etc/trainctl/spec /etc/trainctl/token; "
        "cp " +
        Quote(Path("spec.yaml")) + " /etc/trainctl/spec/job.yaml; cp " + Quote(Path("token")) +
        " /etc/trainctl/token/token; chmod 0400 /etc/trainctl/token/token; cd /; "
        "exec env -i PATH=" +
        path + " HOME=/root" + env_words + command_words;
    return cluster_->Start(sandbox, pod_name, script, log);
  }

  fs::path scratch_;
  std::unique_ptr<PodCluster> cluster_;
  Container container_;
  std::map<int, std::string> pod_addresses_;
};

TEST_F(KubernetesPods, PodsWaitForDnsTrainAndSurviveTheLossOfPodZero) {
  const bool netns = cluster_->mode() == PodCluster::Mode::kNetworkNamespaces;
  // Each pod has its own network: the default rendezvous port. On loopback they share one.
  int port = 29400;
  if (!netns) {
    CommandResult free_port = RunCommand(
        "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); "
        "print(s.getsockname()[1])'");
    ASSERT_EQ(free_port.status, 0) << free_port.output;
    port = std::stoi(free_port.output);
  }
  const std::string checkpoints = Path("checkpoints");  // the job's PVC, shared by the pods
  std::ofstream(Path("job.yaml"))
      << "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: " << kJob
      << "}\nspec:\n  image: registry.example.com/trainer:1.0\n  command: ["
      << Quote(PODS_WORKER_BINARY) << ", --steps, '" << kSteps << "', --step-ms, '100', --out, "
      << Quote(Path("final")) << "]\n"
      << "  nodes: " << kNodes << "\n  procsPerNode: 1\n"
      << "  rendezvous: {port: " << port
      << ", joinTimeout: 60s, lastCall: 300ms, heartbeat: 100ms, heartbeatTimeout: 1s}\n"
      << "  failurePolicy: {maxRestarts: 3, backoff: 100ms}\n"
      << "  collectives: {backend: cpu, timeout: 20s}\n"
      << "  checkpoint: {dir: " << Quote(checkpoints) << ", everySteps: 5, async: false}\n";
  // The ConfigMap holds the spec with every default filled in.
  CommandResult defaults =
      RunCommand(std::string(TRAINCTL_BINARY) + " defaults " + Path("job.yaml"));
  ASSERT_EQ(defaults.status, 0) << defaults.output;
  std::ofstream(Path("spec.yaml")) << defaults.output;
  std::ofstream(Path("token"))
      << "4f7c1e0d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d\n";

  std::string problem;
  if (auto rendered = RenderedContainer(Path("job.yaml"), &problem)) {
    container_ = *rendered;
  } else {
    ASSERT_EQ(problem, "");
    container_ = ContractContainer(port);
  }
  std::cout << "[   pods   ] pods run " << container_.source << std::endl;

  // Pods 1 and 2 exist; pod 0 does not yet, so its name does not resolve.
  pod_addresses_[1] = cluster_->AddSandbox("pod1");
  pod_addresses_[2] = cluster_->AddSandbox("pod2");
  PublishDns();
  const std::string store = std::string(kJob) + "-0." + kJob + ":" + std::to_string(port);
  const pid_t pod1 = StartPod("pod1", 1, Path("pod1.log"));
  ASSERT_TRUE(WaitForText(Path("pod1.log"),
                          "waiting for the store at " + store + ": the name " + kJob + "-0." +
                              kJob + " does not resolve",
                          30s))
      << ReadFile(Path("pod1.log"));
  EXPECT_FALSE(cluster_->Wait(pod1, 0ms).has_value()) << ReadFile(Path("pod1.log"));

  pod_addresses_[0] = cluster_->AddSandbox("pod0");
  PublishDns();
  const std::string first_address = pod_addresses_[0];
  const pid_t pod0 = StartPod("pod0", 0, Path("pod0.log"));
  const pid_t pod2 = StartPod("pod2", 2, Path("pod2.log"));
  auto logs = [&] {
    return "--- pod0\n" + ReadFile(Path("pod0.log")) + "--- pod1\n" + ReadFile(Path("pod1.log")) +
           "--- pod2\n" + ReadFile(Path("pod2.log")) + "--- pod0 again\n" +
           ReadFile(Path("pod0-again.log"));
  };
  // Mid-training, after checkpoints were written: lose pod 0 and everything in it.
  ASSERT_TRUE(WaitForText(Path("pod1.log"), "step 12\n", 60s)) << logs();
  cluster_->KillAll("pod0");
  EXPECT_EQ(cluster_->Wait(pod0, 5s), 128 + SIGKILL) << logs();
  cluster_->Remove("pod0");
  pod_addresses_.erase(0);
  PublishDns();  // the record goes with the pod
  std::this_thread::sleep_for(500ms);

  // Kubernetes starts a new pod 0 elsewhere: a new address behind the same name.
  pod_addresses_[0] = cluster_->AddSandbox("pod0-again");
  ASSERT_NE(pod_addresses_[0], first_address);
  PublishDns();
  const pid_t pod0_again = StartPod("pod0-again", 0, Path("pod0-again.log"));

  EXPECT_EQ(cluster_->Wait(pod1, 90s), 0) << logs();
  EXPECT_EQ(cluster_->Wait(pod2, 30s), 0) << logs();
  EXPECT_EQ(cluster_->Wait(pod0_again, 30s), 0) << logs();
  EXPECT_EQ(ReadFile(Path("final")), ExpectedFinal()) << logs();

  // The workers of the new round resumed from a checkpoint, not from scratch.
  const std::string pod1_log = ReadFile(Path("pod1.log"));
  std::smatch last;
  long long resumed = -1;
  const std::regex resumed_line("resumed after step (\\d+)");
  for (auto it = std::sregex_iterator(pod1_log.begin(), pod1_log.end(), resumed_line);
       it != std::sregex_iterator(); ++it) {
    resumed = std::stoll((*it)[1]);
  }
  EXPECT_GE(resumed, 10) << logs();
  // What a survivor saw, for the record.
  std::istringstream lines(pod1_log);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("trainctl:", 0) == 0 || line.find("resumed") != std::string::npos) {
      std::cout << "[   pod1   ] " << line << "\n";
    }
  }
  EXPECT_THAT(ReadFile(Path("pod0-again.log")), HasSubstr("resumed after step")) << logs();
  EXPECT_THAT(ReadFile(Path("pod0-again.log")), HasSubstr("this node hosts the store"));
}

}  // namespace
}  // namespace k8s_pods_test
