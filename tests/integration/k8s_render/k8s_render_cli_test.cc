// `trainctl render|submit|status|logs|delete` as a user runs them: every rendered manifest
// passes the real Kubernetes schemas (shared/tools/k8s-validate, strict), the checked-in
// examples match what render prints now, and without kubectl or a cluster the error says what
// to do.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../../scratch_dir.h"

namespace {

namespace fs = std::filesystem;
using ::train::testing::ScratchDir;

const char* const kFormats[] = {"job", "jobset", "pytorchjob"};
const char kSpecs[] = "tests/integration/k8s_render/specs";
const char kExampleToken[] = "manifests/examples/example.token";

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult Shell(const std::string& command) {
  CommandResult run;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

CommandResult Trainctl(const std::string& args) {
  return Shell(std::string(TRAINCTL_BINARY) + " " + args);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(K8sRender, EverySpecInEveryFormatPassesTheKubernetesSchemas) {
  if (!fs::exists(K8S_VALIDATE)) {
    GTEST_SKIP() << K8S_VALIDATE << " is absent (../shared is not checked out next to the "
                 << "repository): the manifests were not checked against the schemas";
  }
  ScratchDir dir;
  std::string files;
  int rendered = 0;
  for (const auto& entry : fs::directory_iterator(kSpecs)) {
    for (const char* format : kFormats) {
      const fs::path out = dir.path() / (entry.path().stem().string() + "." + format + ".yaml");
      CommandResult r = Trainctl("render " + entry.path().string() + " --format " + format + " > " +
                                 out.string());
      ASSERT_EQ(r.exit_code, 0) << entry.path() << " " << format << ": " << r.output;
      files += " " + out.string();
      ++rendered;
    }
  }
  EXPECT_EQ(rendered, 6 * 3);  // cpu-only, gpus, mig, selectors, elastic, pvc
  CommandResult v = Shell(std::string(K8S_VALIDATE) + files);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("60 valid, 0 invalid"), std::string::npos) << v.output;
}

TEST(K8sRender, CheckedInExamplesMatchWhatRenderPrintsNow) {
  int compared = 0;
  for (const auto& entry : fs::directory_iterator("examples/jobs")) {
    // The specs that can run on Kubernetes, as manifests/render-examples.sh picks them.
    const std::string text = ReadFile(entry.path());
    if (text.find("image:") == std::string::npos && text.find("\"image\"") == std::string::npos) {
      continue;
    }
    for (const char* format : kFormats) {
      const std::string name = entry.path().stem().string() + "." + format + ".yaml";
      CommandResult r = Trainctl("render " + entry.path().string() + " --format " + format +
                                 " --token-file " + kExampleToken);
      ASSERT_EQ(r.exit_code, 0) << r.output;
      EXPECT_EQ(ReadFile(fs::path("manifests/examples") / name), r.output)
          << "manifests/examples/" << name << " is out of date; regenerate the examples from "
          << "the repository root with: manifests/render-examples.sh " << TRAINCTL_BINARY;
      ++compared;
    }
  }
  EXPECT_GE(compared, 6);
  // No stale example: every rendered file has a spec it comes from.
  for (const auto& entry : fs::directory_iterator("manifests/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string stem = fs::path(entry.path().stem()).stem().string();
    EXPECT_TRUE(fs::exists("examples/jobs/" + stem + ".yaml") ||
                fs::exists("examples/jobs/" + stem + ".json"))
        << entry.path() << " has no spec in examples/jobs; delete it";
  }
}

TEST(K8sRender, RenderingIsReproducibleWithATokenFileAndFreshWithout) {
  const std::string spec = std::string(kSpecs) + "/gpus.yaml";
  CommandResult a = Trainctl("render " + spec + " --token-file " + kExampleToken);
  CommandResult b = Trainctl("render " + spec + " --token-file " + kExampleToken);
  EXPECT_EQ(a.output, b.output);
  CommandResult c = Trainctl("render " + spec);
  CommandResult d = Trainctl("render " + spec);
  EXPECT_NE(c.output, d.output);  // a fresh token each time
}

TEST(K8sRender, OutputDirGetsOneFilePerObject) {
  ScratchDir dir;
  CommandResult r = Trainctl("render " + std::string(kSpecs) + "/pvc.yaml --format jobset -o " +
                             dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir.path() / "pvc-token.secret.yaml"));
  EXPECT_TRUE(fs::exists(dir.path() / "pvc-spec.configmap.yaml"));
  EXPECT_TRUE(fs::exists(dir.path() / "pvc.jobset.yaml"));
}

TEST(K8sRender, RefusesHostPathWithFileLineAndField) {
  ScratchDir dir;
  const fs::path spec = dir.path() / "host.yaml";
  std::ofstream(spec) << "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\n"
                         "metadata: {name: host}\nspec:\n  command: [train]\n"
                         "  image: trainer:1\n  storage:\n    volumes:\n"
                         "      - {name: data, hostPath: /mnt/data, mountPath: /data}\n";
  CommandResult r = Trainctl("render " + spec.string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(spec.string() + ":9:22: spec.storage.volumes[0].hostPath: "
                                          "\"/mnt/data\" cannot be rendered"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("kind:"), std::string::npos) << "printed manifests anyway";
  EXPECT_EQ(Trainctl("render " + spec.string() + " --format nope").exit_code, 2);
}

TEST(K8sKubectl, WithoutKubectlOnPathEveryCommandSaysWhatToDo) {
  ScratchDir empty;
  for (const std::string args : {"submit tests/integration/k8s_render/specs/pvc.yaml", "status pvc",
                                 "logs pvc", "delete pvc"}) {
    CommandResult r = Shell("PATH=" + empty.path().string() + " " + TRAINCTL_BINARY + " " + args);
    EXPECT_EQ(r.exit_code, 1) << args << ": " << r.output;
    EXPECT_NE(r.output.find("kubectl was not found on PATH: install it"), std::string::npos)
        << r.output;
  }
}

TEST(K8sKubectl, WithoutAReachableClusterEveryCommandFailsClearly) {
  if (Shell("command -v kubectl").exit_code != 0) GTEST_SKIP() << "kubectl is not installed";
  ScratchDir dir;
  // A cluster on a port nothing listens on: kubectl's connection is refused at once.
  const fs::path kubeconfig = dir.path() / "closed.kubeconfig";
  std::ofstream(kubeconfig)
      << "apiVersion: v1\nkind: Config\n"
         "clusters: [{name: closed, cluster: {server: 'https://127.0.0.1:1'}}]\n"
         "contexts: [{name: closed, context: {cluster: closed, user: u}}]\n"
         "current-context: closed\nusers: [{name: u, user: {token: t}}]\n";
  const std::string flags = " --kubeconfig " + kubeconfig.string() + " --context closed";
  for (const std::string args : {"submit tests/integration/k8s_render/specs/pvc.yaml", "status pvc",
                                 "logs pvc --rank 0", "delete pvc"}) {
    CommandResult r = Trainctl(args + flags);
    EXPECT_EQ(r.exit_code, 1) << args << ": " << r.output;
    EXPECT_NE(r.output.find("cannot reach the Kubernetes cluster"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("cluster-info"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("memcache.go"), std::string::npos) << "klog noise:\n" << r.output;
  }
}

}  // namespace
