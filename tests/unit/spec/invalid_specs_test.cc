// Each invalid spec must produce an error that names the field path and the line it is on.
// The line is marked in the YAML itself with "# <-", so the expectation reads beside the text.
#include <gtest/gtest.h>

#include <string>

#include "job_file.h"

namespace trainctl::spec {
namespace {

struct InvalidCase {
  const char* name;
  const char* spec_body;  // lines under "spec:", or a whole document when it starts with '!'
  const char* path;       // the field path the error must name
  const char* says;       // a phrase the message must contain
};

// gtest prints the case by name when it fails.
void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

constexpr char kHeader[] =
    "apiVersion: trainctl.dev/v1alpha1\n"
    "kind: TrainingJob\n"
    "metadata:\n"
    "  name: demo\n"
    "spec:\n";

std::string Document(const InvalidCase& c) {
  std::string body = c.spec_body;
  if (!body.empty() && body[0] == '!') return body.substr(1);
  return kHeader + body;
}

// 1-based line of the "# <-" marker, 0 when the case has none.
int MarkedLine(const std::string& text) {
  std::size_t marker = text.find("# <-");
  if (marker == std::string::npos) return 0;
  int line = 1;
  for (std::size_t i = 0; i < marker; ++i) line += text[i] == '\n';
  return line;
}

const InvalidCase kCases[] = {
    {"UnknownTopLevelField",
     "!apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\n"
     "metadata: {name: demo}\nspecs:  # <-\n  command: [a]\n",
     "specs", "did you mean \"spec\"?"},
    {"MisspelledField", "  command: [train]\n  procPerNode: 2  # <-\n", "spec.procPerNode",
     "did you mean \"procsPerNode\"?"},
    {"SnakeCaseField", "  command: [train]\n  procs_per_node: 2  # <-\n", "spec.procs_per_node",
     "did you mean \"procsPerNode\"?"},
    {"UnknownFieldWithNoNeighbour", "  command: [train]\n  xyzzyplugh: 1  # <-\n",
     "spec.xyzzyplugh", "valid fields are command, workingDir"},
    {"IntegerExpected", "  command: [train]\n  procsPerNode: four  # <-\n", "spec.procsPerNode",
     "expected an integer, got \"four\""},
    {"IntegerOverflow", "  command: [train]\n  procsPerNode: 99999999999  # <-\n",
     "spec.procsPerNode", "out of range"},
    {"ProcsPerNodeZero", "  command: [train]\n  procsPerNode: 0  # <-\n", "spec.procsPerNode",
     "0 is out of range; use a value between 1 and 1024"},
    {"NodesMinAboveMax", "  command: [train]\n  nodes:\n    min: 3  # <-\n    max: 2\n",
     "spec.nodes.min", "min (3) is greater than max (2)"},
    {"NodesZero", "  command: [train]\n  nodes: 0  # <-\n", "spec.nodes.min", "out of range"},
    {"CommandMissing", "  procsPerNode: 1\n", "spec.command", "is required"},
    {"CommandNotAList", "  command: train.py  # <-\n", "spec.command",
     "write it as a list: [train.py]"},
    {"CommandEmptyProgram", "  command: [\"\", --x]  # <-\n", "spec.command[0]",
     "program name is empty"},
    {"NameNotDns",
     "!apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata:\n"
     "  name: Fashion_MNIST  # <-\nspec: {command: [a]}\n",
     "metadata.name", "\"Fashion_MNIST\" is not a valid name"},
    {"NameMissing",
     "!apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata:  # <-\n"
     "  labels: {a: b}\nspec: {command: [a]}\n",
     "metadata.name", "is required"},
    {"WrongApiVersion",
     "!apiVersion: v1  # <-\nkind: TrainingJob\nmetadata: {name: a}\n"
     "spec: {command: [a]}\n",
     "apiVersion", "use trainctl.dev/v1alpha1"},
    {"WrongKind",
     "!apiVersion: trainctl.dev/v1alpha1\nkind: PyTorchJob  # <-\n"
     "metadata: {name: a}\nspec: {command: [a]}\n",
     "kind", "use TrainingJob"},
    {"BadNamespace",
     "!apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata:\n"
     "  name: a\n  namespace: Prod  # <-\nspec: {command: [a]}\n",
     "metadata.namespace", "lowercase letters"},
    {"BadLabelKey",
     "!apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata:\n"
     "  name: a\n  labels:\n    \"bad key!\": x  # <-\nspec: {command: [a]}\n",
     "metadata.labels[bad key!]", "not a valid label key"},
    {"EnvNameStartsWithDigit", "  command: [train]\n  env:\n    - name: 1BAD  # <-\n",
     "spec.env[0].name", "starts with a digit"},
    {"EnvNameReserved",
     "  command: [train]\n  env:\n    - {name: TRAIN_RANK, value: \"3\"}  # <-\n",
     "spec.env[0].name", "is reserved"},
    {"EnvNameTwice",
     "  command: [train]\n  env:\n    - {name: A, value: x}\n"
     "    - {name: A, value: y}  # <-\n",
     "spec.env[1].name", "set twice"},
    {"EnvNotAList", "  command: [train]\n  env: {name: A}  # <-\n", "spec.env",
     "expected a list of EnvVar mappings"},
    {"CpuNotAQuantity", "  command: [train]\n  resources:\n    cpu: two  # <-\n",
     "spec.resources.cpu", "invalid quantity \"two\""},
    {"MemoryInGB", "  command: [train]\n  resources:\n    memory: 4GB  # <-\n",
     "spec.resources.memory", "did you mean Gi or G?"},
    {"MemoryInMillibytes", "  command: [train]\n  resources:\n    memory: 512m  # <-\n",
     "spec.resources.memory", "did you mean 512Mi?"},
    {"GpusNotDivisibleByProcs",
     "  command: [train]\n  procsPerNode: 3  # <-\n"
     "  resources: {gpus: 4}\n",
     "spec.procsPerNode", "cannot share 4 GPUs evenly"},
    {"TooManyGpus", "  command: [train]\n  resources:\n    gpus: 100  # <-\n",
     "spec.resources.gpus", "between 0 and 64"},
    {"GpuResourceWithoutVendor", "  command: [train]\n  resources:\n    gpuResource: gpu  # <-\n",
     "spec.resources.gpuResource", "nvidia.com/gpu"},
    {"TolerationOperatorTypo",
     "  command: [train]\n  scheduling:\n    tolerations:\n"
     "      - {key: nvidia.com/gpu, operator: Exist}  # <-\n",
     "spec.scheduling.tolerations[0].operator", "did you mean \"Exists\"?"},
    {"TolerationEffectTypo",
     "  command: [train]\n  scheduling:\n    tolerations:\n"
     "      - key: nvidia.com/gpu\n        operator: Exists\n        effect: NoSchedul  # <-\n",
     "spec.scheduling.tolerations[0].effect", "did you mean \"NoSchedule\"?"},
    {"TolerationExistsWithValue",
     "  command: [train]\n  scheduling:\n    tolerations:\n"
     "      - key: gpu\n        operator: Exists\n        value: \"true\"  # <-\n",
     "spec.scheduling.tolerations[0].value", "must be empty with operator Exists"},
    {"TolerationSecondsWithoutNoExecute",
     "  command: [train]\n  scheduling:\n    tolerations:\n"
     "      - key: gpu\n        operator: Exists\n        effect: NoSchedule\n"
     "        tolerationSeconds: 60  # <-\n",
     "spec.scheduling.tolerations[0].tolerationSeconds", "only to effect NoExecute"},
    {"NodeSelectorNotAMap", "  command: [train]\n  scheduling:\n    nodeSelector: [gpu]  # <-\n",
     "spec.scheduling.nodeSelector", "expected a mapping of names to strings"},
    {"PortPrivileged", "  command: [train]\n  rendezvous:\n    port: 80  # <-\n",
     "spec.rendezvous.port", "between 1024 and 65535"},
    {"PortTooLarge", "  command: [train]\n  rendezvous: {port: 70000}  # <-\n",
     "spec.rendezvous.port", "70000 is out of range"},
    {"HeartbeatTimeoutTooShort",
     "  command: [train]\n  rendezvous:\n    heartbeat: 5s\n"
     "    heartbeatTimeout: 2s  # <-\n",
     "spec.rendezvous.heartbeatTimeout", "must be longer than heartbeat (5s)"},
    {"DurationWithoutUnit", "  command: [train]\n  rendezvous:\n    joinTimeout: 10  # <-\n",
     "spec.rendezvous.joinTimeout", "\"10\" has no unit"},
    {"DurationUnknownUnit", "  command: [train]\n  rendezvous:\n    lastCall: 2min  # <-\n",
     "spec.rendezvous.lastCall", "unknown unit \"min\""},
    {"LastCallLongerThanJoin",
     "  command: [train]\n  rendezvous:\n    joinTimeout: 10s\n"
     "    lastCall: 1m  # <-\n",
     "spec.rendezvous.lastCall", "shorter than joinTimeout"},
    {"NegativeMaxRestarts", "  command: [train]\n  failurePolicy:\n    maxRestarts: -1  # <-\n",
     "spec.failurePolicy.maxRestarts", "-1 is out of range"},
    {"ExitCodeZero", "  command: [train]\n  failurePolicy:\n    restartOnExitCodes: [0]  # <-\n",
     "spec.failurePolicy.restartOnExitCodes[0]", "0 means success"},
    {"ExitCodeInBothLists",
     "  command: [train]\n  failurePolicy:\n"
     "    restartOnExitCodes: [1, 137]\n    failOnExitCodes: [2, 137]  # <-\n",
     "spec.failurePolicy.failOnExitCodes[1]", "137 is also in restartOnExitCodes"},
    {"CheckpointWithoutDir", "  command: [train]\n  checkpoint:  # <-\n    everySteps: 100\n",
     "spec.checkpoint.dir", "is empty, so the other checkpoint settings would be ignored"},
    {"CheckpointKeepZero", "  command: [train]\n  checkpoint:\n    dir: ckpt\n    keep: 0  # <-\n",
     "spec.checkpoint.keep", "0 is out of range"},
    {"MemorySnapshotsEveryZeroSteps",
     "  command: [train]\n  checkpoint:\n    memory:\n      everySteps: 0  # <-\n",
     "spec.checkpoint.memory.everySteps", "0 is out of range"},
    {"MemorySnapshotsTooManyReplicas",
     "  command: [train]\n  checkpoint:\n    memory:\n      replicas: 17  # <-\n",
     "spec.checkpoint.memory.replicas", "17 is out of range"},
    {"CheckpointAsyncNotBool",
     "  command: [train]\n  checkpoint:\n    dir: ckpt\n"
     "    async: maybe  # <-\n",
     "spec.checkpoint.async", "expected true or false"},
    {"UnknownBackend", "  command: [train]\n  collectives:\n    backend: gloo  # <-\n",
     "spec.collectives.backend", "use auto, cpu, nccl or mpi"},
    {"NcclWithoutGpus", "  command: [train]\n  collectives:\n    backend: nccl  # <-\n",
     "spec.collectives.backend", "nccl needs GPUs"},
    {"ZeroCollectiveTimeout", "  command: [train]\n  collectives:\n    timeout: 0s  # <-\n",
     "spec.collectives.timeout", "is zero"},
    {"VolumeWithTwoSources",
     "  command: [train]\n  storage:\n    volumes:\n"
     "      - {name: a, persistentVolumeClaim: pvc, hostPath: /data, mountPath: /a}  # <-\n",
     "spec.storage.volumes[0]", "set exactly one of"},
    {"VolumeRelativeMount",
     "  command: [train]\n  storage:\n    volumes:\n"
     "      - name: a\n        emptyDir: true\n        mountPath: ckpt  # <-\n",
     "spec.storage.volumes[0].mountPath", "not an absolute path"},
    {"VolumeNameTwice",
     "  command: [train]\n  storage:\n    volumes:\n"
     "      - {name: a, emptyDir: true, mountPath: /a}\n"
     "      - {name: a, emptyDir: true, mountPath: /b}  # <-\n",
     "spec.storage.volumes[1].name", "used by another volume"},
    {"BadTtl", "  command: [train]\n  ttlAfterFinished: forever  # <-\n", "spec.ttlAfterFinished",
     "invalid duration \"forever\""},
    {"DuplicateKey", "  command: [train]\n  procsPerNode: 1\n  procsPerNode: 2  # <-\n",
     "spec.procsPerNode", "appears twice"},
    {"YamlSyntaxError", "  command: [train\n  procsPerNode: 1\n", "", "YAML syntax error"},
    {"EmptyFile", "!", "", "the file is empty"},
    {"TwoDocuments", "  command: [train]\n---\nkind: TrainingJob  # <-\n", "",
     "put one TrainingJob per file"},
    {"DocumentIsAList", "!- apiVersion: trainctl.dev/v1alpha1  # <-\n", "",
     "expected a mapping of TrainingJob fields, got a list"},
};

class InvalidSpecTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidSpecTest, ErrorNamesFieldLineAndFix) {
  const InvalidCase& c = GetParam();
  const std::string text = Document(c);
  JobFile job = ParseJob(text, "job.yaml");
  ASSERT_FALSE(job.ok()) << "accepted:\n" << text;
  const Diagnostic* match = nullptr;
  for (const Diagnostic& d : job.errors) {
    if (d.path == c.path && d.message.find(c.says) != std::string::npos) match = &d;
  }
  ASSERT_NE(match, nullptr) << "no error at \"" << c.path << "\" saying \"" << c.says
                            << "\"; got:\n"
                            << job.FormatErrors();
  const int line = MarkedLine(text);
  if (line > 0) {
    EXPECT_EQ(match->position.line, line) << match->Format("job.yaml");
  }
  if (std::string(c.name) != "EmptyFile") {
    EXPECT_GT(match->position.line, 0) << "every error in a non-empty file has a line";
  }
  // The formatted line is what a user reads: file:line:col, then the path.
  const std::string formatted = match->Format("job.yaml");
  EXPECT_EQ(formatted.rfind("job.yaml:", 0), 0u) << formatted;
  if (!match->path.empty()) {
    EXPECT_NE(formatted.find(": " + match->path + ": "), std::string::npos) << formatted;
  }
}

INSTANTIATE_TEST_SUITE_P(Specs, InvalidSpecTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<InvalidCase>& param) {
                           return std::string(param.param.name);
                         });

TEST(InvalidSpec, JsonErrorsCarryLineAndColumn) {
  const std::string json =
      "{\n"
      "  \"apiVersion\": \"trainctl.dev/v1alpha1\",\n"
      "  \"kind\": \"TrainingJob\",\n"
      "  \"metadata\": {\"name\": \"a\"},\n"
      "  \"spec\": {\"command\": [\"x\"], \"procsPerNod\": 2}\n"
      "}\n";
  JobFile job = ParseJob(json, "job.json");
  ASSERT_EQ(job.errors.size(), 1u) << job.FormatErrors();
  EXPECT_EQ(job.errors[0].path, "spec.procsPerNod");
  EXPECT_EQ(job.errors[0].position.line, 5);
  EXPECT_EQ(job.errors[0].position.column, 30);
  EXPECT_NE(job.errors[0].message.find("did you mean \"procsPerNode\"?"), std::string::npos);
}

TEST(InvalidSpec, EveryErrorIsReportedAtOnceInFileOrder) {
  const std::string text = std::string(kHeader) +
                           "  command: [train]\n"
                           "  procsPerNode: 0\n"             // line 7: range
                           "  nodes: {min: 4, max: 2}\n"     // line 8: min > max
                           "  colectives: {backend: cpu}\n"  // line 9: unknown field
                           "  rendezvous: {port: 1}\n";      // line 10: range
  JobFile job = ParseJob(text, "job.yaml");
  ASSERT_EQ(job.errors.size(), 4u) << job.FormatErrors();
  EXPECT_EQ(job.errors[0].path, "spec.procsPerNode");
  EXPECT_EQ(job.errors[1].path, "spec.nodes.min");
  EXPECT_EQ(job.errors[2].path, "spec.colectives");
  EXPECT_EQ(job.errors[3].path, "spec.rendezvous.port");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(job.errors[i].position.line, 7 + i);
}

TEST(InvalidSpec, AFieldThatFailedToDecodeIsNotReportedTwice) {
  JobFile job = ParseJob(std::string(kHeader) + "  command: [train]\n  nodes: {min: x}\n", "j");
  ASSERT_EQ(job.errors.size(), 1u) << job.FormatErrors();
  EXPECT_EQ(job.errors[0].path, "spec.nodes.min");
}

TEST(InvalidSpec, UnreadableFileIsAnError) {
  JobFile job = LoadJobFile("/nonexistent/job.yaml");
  ASSERT_EQ(job.errors.size(), 1u);
  EXPECT_NE(job.FormatErrors().find("/nonexistent/job.yaml: cannot read the file: No such file"),
            std::string::npos)
      << job.FormatErrors();
}

}  // namespace
}  // namespace trainctl::spec
