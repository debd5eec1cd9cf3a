// The exact kubectl command lines behind submit, status, logs and delete, and the advice
// given when kubectl fails.
#include "launcher/k8s/kubectl.h"

#include <gtest/gtest.h>

namespace trainctl::k8s {
namespace {

using Argv = std::vector<std::string>;

KubectlTarget Everything() { return {"/home/u/.kube/gpu", "gpu-cluster", "research"}; }

TEST(KubectlCommand, ApplyHonoursKubeconfigContextAndNamespace) {
  EXPECT_EQ(ApplyCommand({}), (Argv{"kubectl", "apply", "-f", "-"}));
  EXPECT_EQ(ApplyCommand(Everything()),
            (Argv{"kubectl", "--kubeconfig", "/home/u/.kube/gpu", "--context", "gpu-cluster",
                  "--namespace", "research", "apply", "-f", "-"}));
  EXPECT_EQ(ApplyCommand({"", "", "ns"}),
            (Argv{"kubectl", "--namespace", "ns", "apply", "-f", "-"}));
}

TEST(KubectlCommand, GetSelectsTheJobsJobsAndPodsAsJson) {
  EXPECT_EQ(GetCommand({"", "ctx", ""}, "llm"),
            (Argv{"kubectl", "--context", "ctx", "get", "jobs.batch,pods", "-l",
                  "trainctl.dev/job-name=llm", "-o", "json"}));
}

TEST(KubectlCommand, LogsOfOnePodOrOfEveryPodWithPrefixes) {
  LogsRequest one;
  one.job = "llm";
  one.pod = "llm-1-abcde";
  one.follow = true;
  EXPECT_EQ(LogsCommand({}, one), (Argv{"kubectl", "logs", "llm-1-abcde", "-c", "trainer", "-f"}));
  LogsRequest all;
  all.job = "llm";
  all.pods = 8;
  all.container = "pytorch";
  EXPECT_EQ(LogsCommand({"", "", "research"}, all),
            (Argv{"kubectl", "--namespace", "research", "logs", "-l", "trainctl.dev/job-name=llm",
                  "-c", "pytorch", "--prefix", "--tail=-1", "--max-log-requests=8"}));
}

TEST(KubectlCommand, DeleteRemovesTheWorkloadFirstThenItsObjects) {
  EXPECT_EQ(DeleteCommand({}, "llm", Format::kJob),
            (Argv{"kubectl", "delete", "jobs.batch,services,configmaps,secrets", "-l",
                  "trainctl.dev/job-name=llm", "--ignore-not-found"}));
  EXPECT_EQ(DeleteCommand({}, "llm", Format::kJobSet)[2],
            "jobsets.jobset.x-k8s.io,services,configmaps,secrets");
  EXPECT_EQ(DeleteCommand({"k", "", ""}, "llm", Format::kPyTorchJob)[4],
            "pytorchjobs.kubeflow.org,services,configmaps,secrets");
}

TEST(KubectlCommand, FormatsArgvForAShell) {
  EXPECT_EQ(FormatCommand({"kubectl", "get", "-l", "a=b"}), "kubectl get -l a=b");
  EXPECT_EQ(FormatCommand({"echo", "it's here", ""}), "echo 'it'\\''s here' ''");
}

TEST(KubectlFailure, HintsSayWhatToDo) {
  const KubectlTarget target{"", "gpu", ""};
  EXPECT_NE(KubectlFailureHint("The connection to the server 10.0.0.1:6443 was refused - did "
                               "you specify the right host or port?",
                               target)
                .find("cannot reach the Kubernetes cluster"),
            std::string::npos);
  EXPECT_NE(KubectlFailureHint("dial tcp: lookup api.example.com: no such host", target)
                .find("kubectl --context gpu cluster-info"),
            std::string::npos);
  EXPECT_NE(KubectlFailureHint("The connection to the server localhost:8080 was refused", {})
                .find("no cluster configured"),
            std::string::npos);
  EXPECT_NE(KubectlFailureHint("error: resource mapping not found for name: \"x\": no matches "
                               "for kind \"JobSet\" in version \"jobset.x-k8s.io/v1alpha2\"",
                               {})
                .find("--format job"),
            std::string::npos);
  EXPECT_NE(KubectlFailureHint("jobs.batch is forbidden: User \"u\" cannot create", {})
                .find("manifests/base/rbac.yaml"),
            std::string::npos);
  EXPECT_EQ(KubectlFailureHint("error: some other failure", {}), "");
}

TEST(KubectlFailure, MessageDropsClientLogLines) {
  EXPECT_EQ(KubectlMessage("E1123 09:46:29.624663   20297 memcache.go:265] \"Unhandled\"\n"
                           "E1123 09:46:29.626353   20297 memcache.go:265] \"Unhandled\"\n"
                           "The connection to the server 127.0.0.1:1 was refused\n"),
            "The connection to the server 127.0.0.1:1 was refused\n");
  EXPECT_EQ(KubectlMessage("E1123 09:46:29.6 1 x.go:1] only this\n"),
            "E1123 09:46:29.6 1 x.go:1] only this\n");
  EXPECT_NE(KubectlNotFoundMessage().find("not found on PATH"), std::string::npos);
}

}  // namespace
}  // namespace trainctl::k8s
