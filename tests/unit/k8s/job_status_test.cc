// `trainctl status` and `logs` read kubectl's JSON: nodes ready, restarts, phase, ranks.
#include "launcher/k8s/job_status.h"

#include <gtest/gtest.h>

namespace trainctl::k8s {
namespace {

std::string Pod(const std::string& name, int index, const std::string& phase, bool ready,
                int restarts) {
  return R"({"kind":"Pod","metadata":{"name":")" + name +
         R"(","annotations":{"batch.kubernetes.io/job-completion-index":")" +
         std::to_string(index) + R"("}},"spec":{"nodeName":"gpu-)" + std::to_string(index) +
         R"(","containers":[{"name":"trainer"}]},"status":{"phase":")" + phase +
         R"(","conditions":[{"type":"Ready","status":")" + (ready ? "True" : "False") +
         R"("}],"containerStatuses":[{"name":"trainer","restartCount":)" +
         std::to_string(restarts) + "}]}}";
}

std::string List(const std::vector<std::string>& items) {
  std::string out = R"({"apiVersion":"v1","kind":"List","items":[)";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]}";
}

constexpr char kRunningJob[] =
    R"({"kind":"Job","metadata":{"name":"llm"},"spec":{"parallelism":3},"status":{"failed":1}})";

TEST(JobStatus, CountsReadyNodesAndRestartsOfAReplacedPod) {
  auto state = ParseJobState(
      List({kRunningJob, Pod("llm-1-b", 1, "Running", true, 0),
            Pod("llm-0-old", 0, "Failed", false, 0), Pod("llm-0-new", 0, "Running", true, 2),
            Pod("llm-2-c", 2, "Pending", false, 0)}),
      "llm");
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_EQ(state->nodes, 3);
  EXPECT_EQ(state->ready, 2);
  EXPECT_EQ(state->restarts, 3);  // one pod replaced, two restarts in place
  EXPECT_EQ(state->phase, "Starting");
  ASSERT_EQ(state->pods.size(), 4u);
  EXPECT_EQ(state->pods[0].name, "llm-0-new");  // the current pod of a rank comes first
  EXPECT_EQ(CurrentPods(*state).at(0)->name, "llm-0-new");
  const std::string text = FormatJobState(*state);
  EXPECT_NE(text.find("llm: Starting, 2/3 nodes ready, 3 restarts"), std::string::npos) << text;
  EXPECT_NE(text.find("llm-2-c"), std::string::npos) << text;
}

TEST(JobStatus, PhaseFromTheJobsConditions) {
  const std::string failed =
      R"({"kind":"Job","metadata":{"name":"llm"},"spec":{"parallelism":1},"status":{)"
      R"("conditions":[{"type":"Failed","status":"True","reason":"PodFailurePolicy",)"
      R"("message":"Container trainer for pod llm-0 failed with exit code 2"}]}})";
  auto state = ParseJobState(List({failed, Pod("llm-0-a", 0, "Failed", false, 0)}), "llm");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->phase, "Failed");
  EXPECT_NE(FormatJobState(*state).find("exit code 2"), std::string::npos);

  const std::string all_ready =
      List({kRunningJob, Pod("a", 0, "Running", true, 0), Pod("b", 1, "Running", true, 0),
            Pod("c", 2, "Running", true, 0)});
  EXPECT_EQ(ParseJobState(all_ready, "llm")->phase, "Running");
  const std::string suspended = R"({"kind":"Job","spec":{"parallelism":2},"status":{"conditions":[)"
                                R"({"type":"Suspended","status":"True"}]}})";
  EXPECT_EQ(ParseJobState(List({suspended}), "llm")->phase, "Suspended");
}

TEST(JobStatus, PyTorchJobRanksFromReplicaTypeAndIndex) {
  const std::string master =
      R"({"kind":"Pod","metadata":{"name":"llm-master-0","labels":{)"
      R"("training.kubeflow.org/replica-type":"master","training.kubeflow.org/replica-index":"0"}},)"
      R"("spec":{"containers":[{"name":"pytorch"}]},"status":{"phase":"Succeeded"}})";
  const std::string worker =
      R"({"kind":"Pod","metadata":{"name":"llm-worker-1","labels":{)"
      R"("training.kubeflow.org/replica-type":"worker","training.kubeflow.org/replica-index":"1"}},)"
      R"("spec":{"containers":[{"name":"pytorch"}]},"status":{"phase":"Succeeded"}})";
  auto state = ParseJobState(List({worker, master}), "llm");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->pods[0].node_rank, 0);
  EXPECT_EQ(state->pods[1].node_rank, 2);
  EXPECT_EQ(state->pods[0].container, "pytorch");
  EXPECT_EQ(state->nodes, 2);
  EXPECT_EQ(state->phase, "Succeeded");
}

TEST(JobStatus, NothingFoundOrNotJsonIsAnError) {
  EXPECT_EQ(ParseJobState(List({}), "llm").status().code(), train::StatusCode::kNotFound);
  EXPECT_FALSE(ParseJobState("error: oops", "llm").ok());
}

TEST(JobLogs, LinesArePrefixedWithTheNodeRank) {
  const std::map<std::string, int> pods = {{"llm-0-abc", 0}, {"llm-1-def", 1}};
  EXPECT_EQ(RankPrefixedLine("[pod/llm-1-def/trainer] step 10 loss 0.5", pods),
            "[node 1] step 10 loss 0.5");
  EXPECT_EQ(RankPrefixedLine("[pod/llm-9-zzz/trainer] x", pods), "[llm-9-zzz] x");
  EXPECT_EQ(RankPrefixedLine("no prefix", pods), "no prefix");
  EXPECT_EQ(NodePrefix(3), "[node 3] ");
}

}  // namespace
}  // namespace trainctl::k8s
