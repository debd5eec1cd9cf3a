// The job's outcome record: the first agent to know writes it, every agent and trainctl run
// take their exit code from it, and a damaged record is an agent error, never a crash.
#include "job_outcome.h"

#include <gtest/gtest.h>

#include "agent.h"
#include "rendezvous.h"

namespace trainctl::agent {
namespace {

TEST(JobOutcome, NoneRecordedIsNoExitCode) {
  auto store = train::NewInMemoryStore();
  EXPECT_FALSE(RecordedExitCode(store.get()).has_value());
}

TEST(JobOutcome, TheFirstRecordStands) {
  auto store = train::NewInMemoryStore();
  RecordOutcome(store.get(), JobOutcome::Failed(3, "rank 1 exited with code 3"));
  RecordOutcome(store.get(), JobOutcome::Succeeded());
  EXPECT_EQ(RecordedExitCode(store.get()), 3);
  EXPECT_EQ(store->Get(kOutcomeKey).value(),
            R"({"exit_code":3,"reason":"rank 1 exited with code 3","status":"failed"})");
}

TEST(JobOutcome, SuccessIsExitCodeZero) {
  auto store = train::NewInMemoryStore();
  RecordOutcome(store.get(), JobOutcome::Succeeded());
  EXPECT_EQ(RecordedExitCode(store.get()), 0);
  EXPECT_EQ(EncodeOutcome(JobOutcome::Succeeded()), R"({"exit_code":0,"status":"succeeded"})");
}

TEST(JobOutcome, ADamagedRecordIsAnAgentError) {
  for (const char* text : {"", "{", "[]", "null", R"({"status":"failed"})", R"({"exit_code":"3"})",
                           R"({"exit_code":1.5})", R"({"exit_code":-1})", R"({"exit_code":256})",
                           R"({"exit_code":99999999999999999999})"}) {
    EXPECT_EQ(DecodeOutcomeExitCode(text), kExitAgentError) << text;
  }
  EXPECT_EQ(DecodeOutcomeExitCode(R"({"exit_code":137,"status":"failed"})"), 137);
}

}  // namespace
}  // namespace trainctl::agent
