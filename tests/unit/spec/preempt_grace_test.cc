// spec.failurePolicy.preemptionGrace: its default, the values refused (each error naming the
// field, the value and the fix) and the limits accepted; exit code 75 is not a failure code.
#include <gtest/gtest.h>

#include <string>

#include "defaults.h"
#include "job_file.h"

namespace trainctl::spec {
namespace {

constexpr char kHeader[] =
    "apiVersion: trainctl.dev/v1alpha1\n"
    "kind: TrainingJob\n"
    "metadata: {name: demo}\n"
    "spec:\n"
    "  command: [train]\n";

JobFile Parse(const std::string& body) { return ParseJob(kHeader + body, "job.yaml"); }

// The errors at `path`, one per line.
std::string ErrorsAt(const JobFile& job, const std::string& path) {
  std::string out;
  for (const Diagnostic& d : job.errors) {
    if (d.path == path) out += d.message + "\n";
  }
  return out;
}

TEST(PreemptionGrace, DefaultsToThirtySecondsLikeKubernetes) {
  JobFile job = Parse("");
  ASSERT_TRUE(job.ok()) << job.FormatErrors();
  ApplyDefaults(&job.job);
  EXPECT_EQ(job.job.spec().failure_policy().preemption_grace(), "30s");
}

TEST(PreemptionGrace, AWrittenValueIsKept) {
  JobFile job = Parse("  failurePolicy: {preemptionGrace: 2m}\n");
  ASSERT_TRUE(job.ok()) << job.FormatErrors();
  ApplyDefaults(&job.job);
  EXPECT_EQ(job.job.spec().failure_policy().preemption_grace(), "2m");
}

TEST(PreemptionGrace, RefusedValuesNameTheFieldTheValueAndTheFix) {
  const struct {
    const char* value;
    const char* says;
  } cases[] = {
      {"2h", "\"2h\" is too long; use at most 1h"},
      {"1us", "\"1us\" is too short to work; use at least 1ms (or 0s for none)"},
      {"-5s", "-5s"},
      {"thirty", "thirty"},
      {"30", "30"},
  };
  for (const auto& c : cases) {
    JobFile job = Parse(std::string("  failurePolicy: {preemptionGrace: \"") + c.value + "\"}\n");
    ASSERT_FALSE(job.ok()) << c.value << " was accepted";
    const std::string errors = ErrorsAt(job, "spec.failurePolicy.preemptionGrace");
    EXPECT_NE(errors.find(c.says), std::string::npos)
        << c.value << ": no error at spec.failurePolicy.preemptionGrace saying \"" << c.says
        << "\"; got:\n"
        << job.FormatErrors();
  }
}

TEST(PreemptionGrace, TheLimitsAreAccepted) {
  for (const char* value : {"0s", "1ms", "250ms", "30s", "1h"}) {
    JobFile job = Parse(std::string("  failurePolicy: {preemptionGrace: ") + value + "}\n");
    EXPECT_TRUE(job.ok()) << value << ": " << job.FormatErrors();
  }
}

TEST(PreemptionGrace, ThePreemptedExitCodeCannotFailTheJob) {
  JobFile job = Parse("  failurePolicy: {failOnExitCodes: [3, 75]}\n");
  ASSERT_FALSE(job.ok());
  const std::string errors = ErrorsAt(job, "spec.failurePolicy.failOnExitCodes[1]");
  EXPECT_NE(errors.find("75 is the exit code of a preempted worker"), std::string::npos)
      << job.FormatErrors();
  EXPECT_TRUE(Parse("  failurePolicy: {failOnExitCodes: [3], restartOnExitCodes: [1, 75]}\n").ok());
}

}  // namespace
}  // namespace trainctl::spec
