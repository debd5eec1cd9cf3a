// Durations that cannot work are refused, each error naming the field, the value and the fix;
// the limits themselves are accepted.
#include <gtest/gtest.h>

#include <string>

#include "job_file.h"

namespace trainctl::spec {
namespace {

struct DurationCase {
  const char* name;
  const char* spec_body;  // lines under "spec:"
  const char* path;       // the field the error names
  const char* says;       // what the message must contain: the value and the fix
};

void PrintTo(const DurationCase& c, std::ostream* os) { *os << c.name; }

constexpr char kHeader[] =
    "apiVersion: trainctl.dev/v1alpha1\n"
    "kind: TrainingJob\n"
    "metadata: {name: demo}\n"
    "spec:\n"
    "  command: [train]\n";

JobFile Parse(const std::string& body) { return ParseJob(kHeader + body, "job.yaml"); }

const DurationCase kRefused[] = {
    {"HeartbeatOfOneNanosecond", "  rendezvous: {heartbeat: 1ns, heartbeatTimeout: 2ns}\n",
     "spec.rendezvous.heartbeat", "\"1ns\" is too short to work; use at least 100ms"},
    {"HeartbeatTimeoutOfTwoNanoseconds",
     "  rendezvous:\n    heartbeat: 1ns\n    heartbeatTimeout: 2ns\n",
     "spec.rendezvous.heartbeatTimeout", "\"2ns\" is too short to work; use at least 200ms"},
    {"HeartbeatJustUnderTheMinimum", "  rendezvous: {heartbeat: 99ms}\n",
     "spec.rendezvous.heartbeat", "\"99ms\" is too short to work; use at least 100ms"},
    {"HeartbeatOverAnHour", "  rendezvous: {heartbeat: 25h, heartbeatTimeout: 50h}\n",
     "spec.rendezvous.heartbeat", "\"25h\" is too long; use at most 1h"},
    {"HeartbeatTimeoutUnderTwoBeats", "  rendezvous: {heartbeat: 1s, heartbeatTimeout: 1500ms}\n",
     "spec.rendezvous.heartbeatTimeout", "at least twice as long"},
    {"HeartbeatTimeoutOverADay", "  rendezvous: {heartbeatTimeout: 25h}\n",
     "spec.rendezvous.heartbeatTimeout", "\"25h\" is too long; use at most 24h"},
    {"ZeroHeartbeat", "  rendezvous: {heartbeat: 0s}\n", "spec.rendezvous.heartbeat",
     "\"0s\" is zero; use a positive duration of at least 100ms"},
    {"JoinTimeoutUnderASecond", "  rendezvous: {joinTimeout: 500ms, lastCall: 0s}\n",
     "spec.rendezvous.joinTimeout", "\"500ms\" is too short to work; use at least 1s"},
    {"JoinTimeoutOverAWeek", "  rendezvous: {joinTimeout: 200h}\n", "spec.rendezvous.joinTimeout",
     "\"200h\" is too long; use at most 168h"},
    {"LastCallOfANanosecond", "  rendezvous: {lastCall: 1ns}\n", "spec.rendezvous.lastCall",
     "\"1ns\" is too short to work; use at least 1ms (or 0s for none)"},
    {"BackoffOfANanosecond", "  failurePolicy: {backoff: 1ns}\n", "spec.failurePolicy.backoff",
     "\"1ns\" is too short to work; use at least 1ms (or 0s for none)"},
    {"BackoffOverAnHour", "  failurePolicy: {backoff: 2h}\n", "spec.failurePolicy.backoff",
     "\"2h\" is too long; use at most 1h"},
    {"CollectiveTimeoutOfTenMilliseconds", "  collectives: {timeout: 10ms}\n",
     "spec.collectives.timeout", "\"10ms\" is too short to work; use at least 1s"},
    {"CollectiveTimeoutOverADay", "  collectives: {timeout: 48h}\n", "spec.collectives.timeout",
     "\"48h\" is too long; use at most 24h"},
    {"ActiveDeadlineUnderASecond", "  activeDeadline: 10ms\n", "spec.activeDeadline",
     "\"10ms\" is too short to work; use at least 1s"},
    {"TtlUnderASecond", "  ttlAfterFinished: 1us\n", "spec.ttlAfterFinished",
     "\"1us\" is too short to work; use at least 1s (or 0s for none)"},
    {"ResumePolicyMisspelled", "  checkpoint: {dir: ckpt, resume: allways}\n",
     "spec.checkpoint.resume", "use auto, never or always (did you mean \"always\"?)"},
    {"ResumeFromWithNever", "  checkpoint: {dir: ckpt, resume: never, resumeFrom: old}\n",
     "spec.checkpoint.resumeFrom", "but resume is never"},
};

class RefusedDurationTest : public testing::TestWithParam<DurationCase> {};

TEST_P(RefusedDurationTest, ErrorNamesTheFieldTheValueAndTheFix) {
  const DurationCase& c = GetParam();
  JobFile job = Parse(c.spec_body);
  ASSERT_FALSE(job.ok()) << "accepted:\n" << c.spec_body;
  bool found = false;
  for (const Diagnostic& d : job.errors) {
    found = found || (d.path == c.path && d.message.find(c.says) != std::string::npos);
  }
  EXPECT_TRUE(found) << "no error at " << c.path << " saying \"" << c.says << "\"; got:\n"
                     << job.FormatErrors();
}

INSTANTIATE_TEST_SUITE_P(Specs, RefusedDurationTest, testing::ValuesIn(kRefused),
                         [](const testing::TestParamInfo<DurationCase>& param) {
                           return std::string(param.param.name);
                         });

TEST(Durations, TheLimitsThemselvesAreAccepted) {
  for (const char* body : {
           "  rendezvous: {heartbeat: 100ms, heartbeatTimeout: 200ms, joinTimeout: 1s, "
           "lastCall: 0s}\n",
           "  rendezvous: {heartbeat: 1h, heartbeatTimeout: 24h, joinTimeout: 168h, lastCall: "
           "1h}\n",
           "  failurePolicy: {backoff: 0s}\n  collectives: {timeout: 1s}\n",
           "  failurePolicy: {backoff: 1ms}\n  collectives: {timeout: 24h}\n",
           "  ttlAfterFinished: 0s\n  activeDeadline: 1s\n",
           "  checkpoint: {dir: ckpt, resume: always, resumeFrom: old/run-1}\n",
           // A program that picks its own checkpoint directory still hears resume.
           "  checkpoint: {resume: always}\n",
       }) {
    JobFile job = Parse(body);
    EXPECT_TRUE(job.ok()) << body << job.FormatErrors();
  }
}

}  // namespace
}  // namespace trainctl::spec
