// trainctl as a user runs it: a real process, its output, and exit codes scripts rely on.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult Trainctl(const std::string& args) {
  CommandResult run;
  const std::string command = std::string(TRAINCTL_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.output.append(buffer, n);
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// A scratch file removed at the end of the test.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : path_(fs::temp_directory_path() / (std::to_string(getpid()) + "-" + name)) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

TEST(Cli, ValidateAcceptsEveryExample) {
  CommandResult r = Trainctl("validate examples/jobs/*.yaml examples/jobs/*.json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(
      r.output.find("fashion-mnist.yaml: valid: TrainingJob fashion-mnist, 1 node x 1 worker"),
      std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("2-4 nodes x 8 workers (8 nvidia.com/gpu per node)"), std::string::npos)
      << r.output;
}

TEST(Cli, ValidateReportsEveryErrorWithFileLineAndExitsOne) {
  TempFile bad("bad.yaml",
               "apiVersion: trainctl.dev/v1alpha1\n"
               "kind: TrainingJob\n"
               "metadata: {name: Bad_Name}\n"
               "spec:\n"
               "  command: [train]\n"
               "  procPerNode: 2\n");
  CommandResult r = Trainctl("validate " + bad.path());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(bad.path() + ":3:12: metadata.name: \"Bad_Name\" is not a valid name"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(bad.path() + ":6:3: spec.procPerNode: unknown field \"procPerNode\" in "
                                       "TrainingJobSpec; did you mean \"procsPerNode\"?"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(bad.path() + ": 2 errors"), std::string::npos) << r.output;
}

TEST(Cli, ValidateWithOneBadFileAmongGoodOnesExitsOne) {
  TempFile bad("syntax.yaml", "spec: [unclosed\n");
  CommandResult r = Trainctl("validate examples/jobs/fashion-mnist.yaml " + bad.path());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("YAML syntax error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 of 2 files valid"), std::string::npos) << r.output;
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(Trainctl("").exit_code, 2);
  EXPECT_EQ(Trainctl("validate").exit_code, 2);
  EXPECT_EQ(Trainctl("frobnicate").exit_code, 2);
  EXPECT_EQ(Trainctl("validate --no-such-flag x.yaml").exit_code, 2);
}

TEST(Cli, HelpTeachesAndExitsZero) {
  CommandResult r = Trainctl("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("Examples:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Exit codes: 0 success, 1 failure"), std::string::npos) << r.output;
  EXPECT_EQ(Trainctl("validate --help").exit_code, 0);
}

TEST(Cli, ExplainPrintsFieldDocsAndFailsOnUnknownFields) {
  CommandResult r = Trainctl("explain spec.nodes");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("FIELD:    spec.nodes <integer | NodeRange>"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("makes the job elastic"), std::string::npos) << r.output;
  CommandResult bad = Trainctl("explain spec.nodez");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("did you mean \"nodes\"?"), std::string::npos) << bad.output;
}

TEST(Cli, DefaultsPrintsAValidCompleteSpec) {
  CommandResult r = Trainctl("defaults examples/jobs/fashion-mnist.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("heartbeatTimeout: 5s"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("maxRestarts: 3"), std::string::npos) << r.output;
  TempFile out("defaults.yaml", r.output);
  CommandResult again = Trainctl("validate -q " + out.path());
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output, "") << "quiet prints errors only";
}

TEST(Cli, DefaultsOfAnInvalidSpecExitsOne) {
  TempFile bad("invalid.yaml", "kind: TrainingJob\n");
  CommandResult r = Trainctl("defaults " + bad.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("apiVersion: is required"), std::string::npos) << r.output;
}

// The indices `trainctl data plan` prints, one per line.
std::vector<std::uint64_t> Plan(const std::string& args) {
  CommandResult r = Trainctl("data plan " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::uint64_t> out;
  std::istringstream in(r.output);
  std::uint64_t v;
  while (in >> v) out.push_back(v);
  return out;
}

TEST(Cli, DataPlanSplitsTheRestOfTheEpochAmongTheRanksExactlyOnce) {
  // 1000 samples; 4 ranks consumed the first 300 positions; 3 ranks take over from there.
  std::vector<std::uint64_t> before = Plan("--samples 1000 --world 1 --rank 0 --seed 11");
  before.resize(300);
  std::vector<std::uint64_t> all = before;
  for (int rank = 0; rank < 3; ++rank) {
    auto rest =
        Plan("--samples 1000 --world 3 --rank " + std::to_string(rank) + " --seed 11 --cursor 300");
    EXPECT_GE(rest.size(), 233u);
    all.insert(all.end(), rest.begin(), rest.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 1000u);
  for (std::uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(all[i], i);
  EXPECT_NE(Plan("--samples 1000 --world 1 --rank 0 --seed 11 --epoch 1"),
            Plan("--samples 1000 --world 1 --rank 0 --seed 11"));
}

TEST(Cli, DataPlanRejectsARankOutsideTheWorld) {
  CommandResult r = Trainctl("data plan --samples 10 --world 2 --rank 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("the rank must be in [0, world)"), std::string::npos) << r.output;
}

TEST(Cli, VersionNamesTheLibraryAndTheGpuSituation) {
  CommandResult r = Trainctl("version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("libtrain 0.1.0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cuda "), std::string::npos) << r.output;
}

}  // namespace
