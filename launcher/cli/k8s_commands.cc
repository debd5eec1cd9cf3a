#include "k8s_commands.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "launcher/k8s/command_runner.h"
#include "launcher/k8s/job_status.h"
#include "launcher/k8s/kubectl.h"
#include "launcher/k8s/render.h"
#include "launcher/spec/diagnostics.h"
#include "launcher/spec/job_file.h"
#include "launcher/spec/names.h"
#include "train/store.h"

namespace trainctl::cli {
namespace {

namespace fs = std::filesystem;

struct K8sFlags {
  std::string job_file;
  std::string name;
  std::string format = "job";
  std::string output_dir;
  std::string token_file;
  k8s::KubectlTarget target;
  int rank = -1;
  bool follow = false;
};

constexpr char kRenderFooter[] = R"(
Objects (--format job): Secret <job>-token, ConfigMap <job>-spec, a headless Service <job>,
and an Indexed Job <job> whose pod k runs `trainctl agent` as node k (pod 0 hosts the store).
--format jobset renders a JobSet (jobset.x-k8s.io/v1alpha2) and --format pytorchjob a Kubeflow
PyTorchJob (kubeflow.org/v1) instead of the Service and the Job.

The token is fresh on every render; --token-file reuses one (64 hex digits), which makes the
output reproducible: manifests/examples/ is rendered that way.

Examples:
  trainctl render job.yaml | kubectl apply -f -
  trainctl render job.yaml --format jobset -o k8s/     one file per object in k8s/
  trainctl render job.yaml --token-file token.hex      the same bytes every time
docs/kubernetes.md describes every field.)";

constexpr char kSubmitFooter[] = R"(
Examples:
  trainctl submit job.yaml                             the current kubectl context
  trainctl submit job.yaml --context gpu-cluster -n research
  trainctl submit job.yaml --format jobset
Then: trainctl status NAME, trainctl logs NAME -f, trainctl delete NAME.
Needs kubectl on PATH and a cluster it can reach (exit 1 with what to do otherwise).)";

void AddTargetFlags(CLI::App* command, K8sFlags* flags) {
  command->add_option("--context", flags->target.context, "kubectl context (default: current)");
  command->add_option("-n,--namespace", flags->target.namespace_,
                      "Namespace (default: metadata.namespace for submit, else the context's)");
  command->add_option("--kubeconfig", flags->target.kubeconfig,
                      "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)");
}

// Loads, validates and renders; prints every error (exit 1) or fills `manifests`.
int RenderJob(const K8sFlags& flags, std::vector<k8s::Manifest>* manifests) {
  auto format = k8s::ParseFormat(flags.format);
  if (!format.ok()) {
    std::cerr << "trainctl: " << format.status().message() << "\n";
    return kExitUsage;
  }
  spec::JobFile job = spec::LoadJobFile(flags.job_file);
  if (!flags.target.namespace_.empty()) {
    if (auto why = spec::CheckDns1123Label(flags.target.namespace_); !why.empty()) {
      std::cerr << "trainctl: --namespace \"" << flags.target.namespace_
                << "\" is not a valid namespace: " << why << "\n";
      return kExitUsage;
    }
    job.job.mutable_metadata()->set_namespace_(flags.target.namespace_);
  }
  if (!job.ok()) {
    std::cerr << job.FormatErrors() << flags.job_file << ": " << job.errors.size()
              << (job.errors.size() == 1 ? " error" : " errors")
              << "; `trainctl validate` checks a spec\n";
    return kExitFailure;
  }
  const auto problems = k8s::CheckRenderable(job.job, *format);
  if (!problems.empty()) {
    for (const auto& problem : problems) {
      spec::Diagnostic d{problem.path, job.positions.Find(problem.path), problem.message};
      std::cerr << d.Format(flags.job_file) << "\n";
    }
    std::cerr << flags.job_file << ": cannot run on Kubernetes as written\n";
    return kExitFailure;
  }
  k8s::RenderOptions options;
  options.format = *format;
  auto token =
      flags.token_file.empty() ? train::NewToken() : k8s::ReadRenderToken(flags.token_file);
  if (!token.ok()) {
    std::cerr << "trainctl: " << token.status().message() << "\n";
    return kExitFailure;
  }
  options.token = *token;
  *manifests = k8s::Render(job.job, options);
  return kExitOk;
}

int RunRender(const K8sFlags& flags) {
  std::vector<k8s::Manifest> manifests;
  if (int code = RenderJob(flags, &manifests); code != kExitOk) return code;
  if (flags.output_dir.empty()) {
    std::cout << k8s::ToYamlStream(manifests);
    return kExitOk;
  }
  std::error_code error;
  fs::create_directories(flags.output_dir, error);
  for (const k8s::Manifest& manifest : manifests) {
    const fs::path path = fs::path(flags.output_dir) / k8s::ManifestFileName(manifest);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << k8s::ToYaml(manifest.document);
    if (!out.flush()) {
      std::cerr << "trainctl: cannot write " << path.string() << ": check that " << flags.output_dir
                << " is a writable directory\n";
      return kExitFailure;
    }
    std::cout << path.string() << "\n";
  }
  return kExitOk;
}

// Runs kubectl, capturing its output; on failure prints its message and what to do.
std::optional<k8s::CommandOutput> Kubectl(const std::vector<std::string>& argv,
                                          const k8s::KubectlTarget& target,
                                          const std::string& input = "") {
  auto run = k8s::RunCapture(argv, input);
  if (!run.ok()) {
    std::cerr << "trainctl: "
              << (run.status().code() == train::StatusCode::kNotFound
                      ? k8s::KubectlNotFoundMessage()
                      : run.status().message())
              << "\n";
    return std::nullopt;
  }
  if (run->exit_code != 0) {
    std::cerr << k8s::KubectlMessage(run->err);
    std::cerr << "trainctl: `" << k8s::FormatCommand(argv) << "` failed (exit " << run->exit_code
              << ")";
    const std::string hint = k8s::KubectlFailureHint(run->err, target);
    std::cerr << (hint.empty() ? "" : ": " + hint) << "\n";
    return std::nullopt;
  }
  return *std::move(run);
}

int RunSubmit(const K8sFlags& flags) {
  std::vector<k8s::Manifest> manifests;
  if (int code = RenderJob(flags, &manifests); code != kExitOk) return code;
  auto applied =
      Kubectl(k8s::ApplyCommand(flags.target), flags.target, k8s::ToYamlStream(manifests));
  if (!applied) return kExitFailure;
  std::cout << applied->out;
  const std::string& name = manifests.back().name;
  std::cout << "submitted " << name << ": `trainctl status " << name << "` and `trainctl logs "
            << name << " -f` follow it\n";
  return kExitOk;
}

std::optional<k8s::JobState> GetState(const K8sFlags& flags) {
  auto got = Kubectl(k8s::GetCommand(flags.target, flags.name), flags.target);
  if (!got) return std::nullopt;
  auto state = k8s::ParseJobState(got->out, flags.name);
  if (!state.ok()) {
    std::cerr << "trainctl: job " << flags.name << " not found"
              << (flags.target.namespace_.empty() ? "" : " in namespace " + flags.target.namespace_)
              << ": " << state.status().message()
              << "; `trainctl submit JOB.yaml` starts one (wrong namespace? pass -n)\n";
    return std::nullopt;
  }
  return *std::move(state);
}

int RunStatus(const K8sFlags& flags) {
  auto state = GetState(flags);
  if (!state) return kExitFailure;
  std::cout << k8s::FormatJobState(*state);
  return state->phase == "Failed" ? kExitFailure : kExitOk;
}

int RunLogs(const K8sFlags& flags) {
  auto state = GetState(flags);
  if (!state) return kExitFailure;
  const auto current = k8s::CurrentPods(*state);
  k8s::LogsRequest request;
  request.job = flags.name;
  request.follow = flags.follow;
  request.pods = static_cast<int>(current.size());
  std::map<std::string, int> ranks;
  for (const k8s::PodState& pod : state->pods) ranks[pod.name] = pod.node_rank;
  if (!current.empty() && !current.begin()->second->container.empty()) {
    request.container = current.begin()->second->container;
  }
  if (flags.rank >= 0) {
    auto it = current.find(flags.rank);
    if (it == current.end()) {
      std::cerr << "trainctl: job " << flags.name << " has no pod of node rank " << flags.rank
                << " now; `trainctl status " << flags.name << "` lists its pods\n";
      return kExitFailure;
    }
    request.pod = it->second->name;
  }
  const std::string prefix = k8s::NodePrefix(flags.rank);
  auto run = k8s::RunLines(k8s::LogsCommand(flags.target, request), [&](std::string_view line) {
    std::cout << (request.pod.empty() ? k8s::RankPrefixedLine(line, ranks)
                                      : prefix + std::string(line))
              << "\n";
    std::cout.flush();
  });
  if (!run.ok()) {
    std::cerr << "trainctl: " << k8s::KubectlNotFoundMessage() << "\n";
    return kExitFailure;
  }
  return *run == 0 ? kExitOk : kExitFailure;
}

int RunDelete(const K8sFlags& flags) {
  auto format = k8s::ParseFormat(flags.format);
  if (!format.ok()) {
    std::cerr << "trainctl: " << format.status().message() << "\n";
    return kExitUsage;
  }
  auto deleted = Kubectl(k8s::DeleteCommand(flags.target, flags.name, *format), flags.target);
  if (!deleted) return kExitFailure;
  std::cout << (deleted->out.empty() ? "nothing of job " + flags.name + " was found\n"
                                     : deleted->out);
  return kExitOk;
}

}  // namespace

CommandRunner AddKubernetesCommands(CLI::App* app) {
  auto flags = std::make_shared<K8sFlags>();
  const char* kFormatHelp =
      "job (an Indexed Job, plain Kubernetes), jobset (JobSet "
      "v1alpha2) or pytorchjob (Kubeflow PyTorchJob v1)";

  auto* render = app->add_subcommand(
      "render", "Print the Kubernetes objects of a job (YAML, ready for `kubectl apply -f -`)");
  render->add_option("JOB", flags->job_file, "TrainingJob file (YAML or JSON)")->required();
  render->add_option("--format", flags->format, kFormatHelp)->capture_default_str();
  render->add_option("-o,--output-dir", flags->output_dir,
                     "Write one file per object into DIR instead of printing them");
  render->add_option("--token-file", flags->token_file,
                     "Use this token (64 hex digits) instead of a fresh one: reproducible output");
  render->add_option("-n,--namespace", flags->target.namespace_,
                     "Namespace of the objects (default: metadata.namespace)");
  render->footer(kRenderFooter);

  auto* submit = app->add_subcommand(
      "submit",
      "Render a job and apply it with kubectl (`trainctl render JOB | kubectl apply -f -`)");
  submit->add_option("JOB", flags->job_file, "TrainingJob file (YAML or JSON)")->required();
  submit->add_option("--format", flags->format, kFormatHelp)->capture_default_str();
  submit->add_option("--token-file", flags->token_file,
                     "Use this token (64 hex digits) instead of a fresh one");
  AddTargetFlags(submit, flags.get());
  submit->footer(kSubmitFooter);

  auto* status = app->add_subcommand(
      "status", "Show a job on Kubernetes: phase, nodes ready, restarts, and each pod");
  status->add_option("NAME", flags->name, "The job's name (metadata.name)")->required();
  AddTargetFlags(status, flags.get());
  status->footer(R"(
Example: trainctl status llm-pretrain -n research
Exit code 1 when the job failed or cannot be found.)");

  auto* logs = app->add_subcommand(
      "logs", "Print a job's logs from Kubernetes, each line prefixed with its node rank");
  logs->add_option("NAME", flags->name, "The job's name (metadata.name)")->required();
  logs->add_option("--rank", flags->rank, "Only the pod of this node rank (0 hosts the store)")
      ->check(CLI::NonNegativeNumber);
  logs->add_flag("-f,--follow", flags->follow, "Keep printing new lines");
  AddTargetFlags(logs, flags.get());
  logs->footer(R"(
Examples:
  trainctl logs llm-pretrain                 every pod: "[node R] line"
  trainctl logs llm-pretrain --rank 0 -f     follow node 0 (the store's host))");

  auto* remove = app->add_subcommand(
      "delete", "Delete a job's Kubernetes objects (its workload, Service, ConfigMap, Secret)");
  remove->add_option("NAME", flags->name, "The job's name (metadata.name)")->required();
  remove
      ->add_option("--format", flags->format,
                   "The format it was submitted in: " + std::string(kFormatHelp))
      ->capture_default_str();
  AddTargetFlags(remove, flags.get());

  return [=]() -> std::optional<int> {
    if (render->parsed()) return RunRender(*flags);
    if (submit->parsed()) return RunSubmit(*flags);
    if (status->parsed()) return RunStatus(*flags);
    if (logs->parsed()) return RunLogs(*flags);
    if (remove->parsed()) return RunDelete(*flags);
    return std::nullopt;
  };
}

}  // namespace trainctl::cli
