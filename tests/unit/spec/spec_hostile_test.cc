// Specs built to hurt the loader: alias bombs, alias cycles, nesting past the parser's stack,
// files without end, numbers past any type, names of megabytes. Each is one clear error, found
// quickly and in bounded memory, never a crash.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "../../sanitizer_build.h"
#include "duration.h"
#include "job_file.h"
#include "quantity.h"
#include "yaml_decoder.h"

namespace trainctl::spec {
namespace {

using ::testing::HasSubstr;

constexpr char kHeader[] =
    "apiVersion: trainctl.dev/v1alpha1\n"
    "kind: TrainingJob\n"
    "metadata:\n"
    "  name: demo\n";

// The errors of `text`, one per line.
std::string Errors(const std::string& text) {
  JobFile job = ParseJob(text, "job.yaml");
  EXPECT_FALSE(job.ok());
  return job.FormatErrors();
}

TEST(SpecHostileTest, ABillionLaughsOfAliasesIsRefusedByItsExpandedSize) {
  // One anchor of 10 labels used 20,000 times: 140 KiB of text that decoded into 2 GB.
  std::string text = std::string(kHeader) + "  labels: &a {";
  for (int i = 0; i < 10; ++i) text += (i ? ", k" : "k") + std::to_string(i) + ": v";
  text += "}\nspec:\n  command: [\"true\"]\n  env:\n";
  for (int i = 0; i < 20000; ++i) text += "  - *a\n";
  EXPECT_THAT(Errors(text), HasSubstr("the document holds more than 100000 nodes (here, at *a"));
}

TEST(SpecHostileTest, AliasesOfAliasesAreCountedAsTheyExpand) {
  // Nine levels of ten: 10^9 nodes from a few hundred bytes.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level < 10; ++level) {
    const std::string previous = "*a" + std::to_string(level - 1);
    text += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) text += (i ? ", " : "") + previous;
    text += "]\n";
  }
  EXPECT_THAT(Errors(text), HasSubstr("more than 100000 nodes"));
}

TEST(SpecHostileTest, AnAliasInsideItsOwnNodeIsACycle) {
  EXPECT_THAT(Errors(std::string(kHeader) + "spec: &s\n  env: [*s]\n"),
              HasSubstr("job.yaml:6:9: the alias *s is used inside the node it names: a cycle"));
}

TEST(SpecHostileTest, AFewAliasesStillWork) {
  JobFile job = ParseJob(std::string(kHeader) +
                             "  labels: &l {team: a}\n"
                             "  annotations: *l\n"
                             "spec:\n  command: [\"true\"]\n",
                         "job.yaml");
  ASSERT_TRUE(job.ok()) << job.FormatErrors();
  EXPECT_EQ(job.job.metadata().annotations().at("team"), "a");
}

TEST(SpecHostileTest, DeepNestingIsRefusedBeforeTheParserRecursesIntoIt) {
  // yaml-cpp recurses once per level; 100,000 levels of each kind of collection.
  const int n = 100000;
  EXPECT_THAT(Errors("a: " + std::string(n, '[') + std::string(n, ']') + "\n"),
              HasSubstr("nested more than 64 levels deep"));
  std::string maps = "a: ";
  for (int i = 0; i < n; ++i) maps += "{a: ";
  EXPECT_THAT(Errors(maps + "1" + std::string(n, '}') + "\n"),
              HasSubstr("nested more than 64 levels deep"));
  std::string block;
  for (int i = 0; i < n; ++i) block += "- ";
  EXPECT_THAT(Errors(block + "x\n"), HasSubstr("nested more than 64 levels deep"));
  // Within the bound: an ordinary decode error, not a bound.
  EXPECT_THAT(Errors(std::string(kHeader) + "spec:\n  command: " + std::string(60, '[') +
                     std::string(60, ']') + "\n"),
              HasSubstr("expected a string"));
}

TEST(SpecHostileTest, TextOverTheSizeBoundIsRefusedUnparsed) {
  const std::string text = std::string(kHeader) + "# " + std::string(kMaxJobFileBytes, 'x');
  EXPECT_THAT(Errors(text), HasSubstr("a TrainingJob spec is at most 4 MiB"));
}

TEST(SpecHostileTest, AFileWithoutEndIsReadNoFurtherThanTheBound) {
  JobFile job = LoadJobFile("/dev/zero");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.FormatErrors(), HasSubstr("/dev/zero: the file holds more than 4194304 bytes"));
}

// Runs `body` in a child process limited to the address space it has now plus 128 MiB;
// returns the child's wait status (exit 0: `body` returned true).
template <typename Body>
int InChildWithMemoryLimit(Body body) {
  const pid_t pid = fork();
  if (pid == 0) {
    uint64_t vm_kib = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmSize:", 0) == 0) vm_kib = std::strtoull(line.c_str() + 7, nullptr, 10);
    }
    const rlim_t limit = vm_kib * 1024 + (rlim_t{128} << 20);
    const rlimit rl{limit, limit};
    if (vm_kib == 0 || setrlimit(RLIMIT_AS, &rl) != 0) _exit(99);
    _exit(body() ? 0 : 1);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  return status;
}

TEST(SpecHostileTest, HugeNamesAndValuesAreReportedWithoutACostlySuggestion) {
  TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN();
  // The "did you mean" edit distance allocated (length + 1) vectors per candidate: a 3 MiB
  // name took hundreds of MiB, past the limit here (bad_alloc, abort).
  const std::string huge(3 << 20, 'z');
  const int status = InChildWithMemoryLimit([&] {
    const std::string key = Errors(std::string(kHeader) + "spec:\n  ? " + huge + "\n  : 1\n");
    const std::string value = Errors(std::string(kHeader) + "spec:\n  command: [\"true\"]\n" +
                                     "  collectives: {backend: " + huge + "}\n");
    return key.find("valid fields are") != std::string::npos &&
           value.find("is not valid; use") != std::string::npos;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SpecHostileTest, NumbersPastAnyTypeAreErrors) {
  const std::string digits(400, '9');
  EXPECT_THAT(Errors(std::string(kHeader) + "spec:\n  procsPerNode: " + digits + "\n"),
              HasSubstr("is out of range for an integer here"));
  // std::stod threw out_of_range on these.
  auto duration = ParseDuration(digits + "s");
  ASSERT_FALSE(duration.ok());
  EXPECT_THAT(duration.status().message(), HasSubstr("is too large"));
  auto quantity = ParseQuantity(digits + "Gi");
  ASSERT_FALSE(quantity.ok());
  EXPECT_THAT(quantity.status().message(), HasSubstr("too large"));
  EXPECT_FALSE(ParseQuantity("1e999").ok());
  EXPECT_FALSE(ParseQuantity("1e99999999999").ok());
  EXPECT_THAT(Errors(std::string(kHeader) + "spec:\n  command: [\"true\"]\n" +
                     "  collectives: {timeout: " + digits + "s}\n"),
              HasSubstr("is too large"));
}

}  // namespace
}  // namespace trainctl::spec
