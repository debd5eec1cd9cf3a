#include "render.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "launcher/spec/duration.h"
#include "names.h"
#include "objects.h"

namespace trainctl::k8s {
namespace {

namespace v1 = trainctl::v1alpha1;

constexpr std::size_t kMaxHostname = 63;  // a pod's hostname is a DNS-1123 label
constexpr std::size_t kTokenHexDigits = 64;

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// The longest pod hostname a format gives a job of `nodes` nodes.
std::string LongestHostname(const std::string& job, int nodes, Format format) {
  const std::string last = std::to_string(std::max(nodes - 1, 0));
  switch (format) {
    case Format::kJob:
      return job + "-" + last;
    case Format::kJobSet:
      return job + "-" + kJobSetReplicatedJob + "-0-" + last;
    case Format::kPyTorchJob:
      return nodes > 1 ? job + "-worker-" + std::to_string(nodes - 2) : job + "-master-0";
  }
  return job;
}

bool Under(const std::string& path, const std::string& dir) {
  return path == dir || path.rfind(dir + "/", 0) == 0;
}

}  // namespace

train::Result<Format> ParseFormat(std::string_view name) {
  if (name == "job") return Format::kJob;
  if (name == "jobset") return Format::kJobSet;
  if (name == "pytorchjob") return Format::kPyTorchJob;
  return train::InvalidArgumentError(
      "--format " + Quote(std::string(name)) +
      " is not known; use job (an Indexed Job, plain Kubernetes), jobset (JobSet "
      "v1alpha2) or pytorchjob (Kubeflow PyTorchJob v1)");
}

const char* FormatName(Format format) {
  switch (format) {
    case Format::kJob:
      return "job";
    case Format::kJobSet:
      return "jobset";
    case Format::kPyTorchJob:
      return "pytorchjob";
  }
  return "job";
}

std::vector<RenderProblem> CheckRenderable(const v1::TrainingJob& job, Format format) {
  std::vector<RenderProblem> problems;
  const auto& spec = job.spec();
  if (spec.image().empty()) {
    problems.push_back({"spec.image",
                        "is required on Kubernetes: the container image that holds trainctl "
                        "and the command, e.g. image: registry.example.com/trainer:1.0 "
                        "(the repository's Containerfile builds one)"});
  }
  const std::string hostname = LongestHostname(job.metadata().name(), spec.nodes().max(), format);
  if (hostname.size() > kMaxHostname) {
    problems.push_back(
        {"metadata.name", Quote(job.metadata().name()) + " is too long for " + FormatName(format) +
                              " pod names: pod " + Quote(hostname) + " would have a " +
                              std::to_string(hostname.size()) +
                              "-character hostname (at most 63); use a shorter name"});
  }
  for (int i = 0; i < spec.storage().volumes_size(); ++i) {
    const v1::Volume& volume = spec.storage().volumes(i);
    const std::string path = "spec.storage.volumes[" + std::to_string(i) + "]";
    if (!volume.host_path().empty()) {
      problems.push_back(
          {path + ".hostPath",
           Quote(volume.host_path()) +
               " cannot be rendered: pods must also run on virtual nodes, which have no host "
               "directories (and hostPath is a security risk on shared nodes); use "
               "persistentVolumeClaim: <claim> (manifests/base/pvc.yaml is an example) or "
               "emptyDir: true"});
    }
    if (volume.name().rfind("trainctl-", 0) == 0) {
      problems.push_back({path + ".name", Quote(volume.name()) +
                                              " is reserved: trainctl- volumes hold the token, "
                                              "the spec, /dev/shm and the run directory; "
                                              "choose another name"});
    }
    for (const char* reserved : {kTokenDir, kSpecDir, kRunDir, kShmDir}) {
      if (Under(volume.mount_path(), reserved) || Under(reserved, volume.mount_path())) {
        problems.push_back({path + ".mountPath", Quote(volume.mount_path()) + " collides with " +
                                                     reserved +
                                                     ", which trainctl mounts; choose another "
                                                     "path, e.g. /data"});
        break;
      }
    }
  }
  return problems;
}

std::int64_t Seconds(const std::string& duration) {
  if (duration.empty()) return 0;
  const auto millis = spec::ValidatedMillis(duration).count();
  return (millis + 999) / 1000;
}

std::vector<Manifest> Render(const v1::TrainingJob& job, const RenderOptions& options) {
  const std::string& name = job.metadata().name();
  std::vector<Manifest> out;
  out.push_back({"Secret", TokenSecretName(name), TokenSecret(job, options.token)});
  out.push_back({"ConfigMap", SpecConfigMapName(name), SpecConfigMap(job)});
  switch (options.format) {
    case Format::kJob:
      out.push_back({"Service", name, HeadlessService(job)});
      out.push_back({"Job", name, IndexedJob(job)});
      break;
    case Format::kJobSet:
      out.push_back({"JobSet", name, JobSet(job)});
      break;
    case Format::kPyTorchJob:
      out.push_back({"PyTorchJob", name, PyTorchJob(job)});
      break;
  }
  return out;
}

std::string ToYamlStream(const std::vector<Manifest>& manifests) {
  std::string out;
  for (std::size_t i = 0; i < manifests.size(); ++i) {
    if (i > 0) out += "---\n";
    out += ToYaml(manifests[i].document);
  }
  return out;
}

std::string ManifestFileName(const Manifest& manifest) {
  std::string kind = manifest.kind;
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return manifest.name + "." + kind + ".yaml";
}

train::Result<std::string> ReadRenderToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return train::NotFoundError("--token-file " + path +
                                ": cannot read it: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  const auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
  token.erase(token.begin(), std::find_if_not(token.begin(), token.end(), is_space));
  token.erase(std::find_if_not(token.rbegin(), token.rend(), is_space).base(), token.end());
  const bool hex = std::all_of(token.begin(), token.end(),
                               [](unsigned char c) { return std::isxdigit(c) != 0; });
  if (token.size() != kTokenHexDigits || !hex) {
    return train::InvalidArgumentError(
        "--token-file " + path + ": holds " + std::to_string(token.size()) +
        " characters, not a token of 64 hex digits; make one with `openssl rand -hex 32 > " + path +
        "`");
  }
  return token;
}

}  // namespace trainctl::k8s
