// The built-in store is no single point of failure: agents of one job on distinct loopback
// addresses (127.0.0.1 hosts the store, the others publish 127.0.0.2, 127.0.0.3 as where they
// would host it). SIGKILL the store's host and the next node in node order hosts the store
// and the job goes on; kill that one too and the next takes over again; a Fashion-MNIST job
// that loses its store mid-training resumes from its checkpoint at the new store and ends with
// the parameters of a calm run. A store whose port is closed is known lost at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fashion_mnist_harness.h"
#include "launcher_harness.h"

namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace fm = fashion_mnist_test;
namespace lt = launcher_test;

// `trainctl agent` for `node`, reaching the store at 127.0.0.1:port (hosting it when node 0)
// and publishing 127.0.0.<node+1> as where it would host it.
std::vector<std::string> Agent(const std::string& job, int port, const std::string& token, int node,
                               const std::string& run_dir) {
  std::vector<std::string> args = {lt::Trainctl(),
                                   "agent",
                                   job,
                                   "--store",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--token-file",
                                   token,
                                   "--node-rank",
                                   std::to_string(node),
                                   "--run-dir",
                                   run_dir,
                                   node == 0 ? "--host-store=true" : "--host-store=false"};
  if (node > 0) {
    args.push_back("--store-bind");
    args.push_back("127.0.0." + std::to_string(node + 1));
  }
  return args;
}

TEST(Failover, TheStoreHostKilledTheNextNodeHostsItAndTheJobEndsOnTheRestDownToMin) {
  lt::ScratchDir dir;
  const int port = lt::FreePort();
  const std::string token = lt::WriteToken(dir, "token", "failover-job-token-0123456789abcdef");
  const std::string job = lt::WriteJob(dir, "moving", {lt::TestWorker(), "--sleep-ms", "6000"},
                                       "  nodes: {min: 1, max: 3}\n"
                                       "  failurePolicy: {maxRestarts: 3, backoff: 50ms}\n");
  auto a = std::make_unique<lt::Process>(Agent(job, port, token, 0, dir / "a"), dir / "a.out");
  auto b = std::make_unique<lt::Process>(Agent(job, port, token, 1, dir / "b"), dir / "b.out");
  lt::Process c(Agent(job, port, token, 2, dir / "c"), dir / "c.out");
  ASSERT_TRUE(c.WaitForOutput("ready rank 2 of 3 restart 0", 60s))
      << a->Output() << b->Output() << c.Output();

  a->Signal(SIGKILL);  // the store goes with its host
  ASSERT_TRUE(a->Wait(10s).has_value());
  ASSERT_TRUE(b->WaitForOutput("this node hosts it now on 127.0.0.2:" + std::to_string(port), 60s))
      << b->Output() << c.Output();
  ASSERT_TRUE(c.WaitForOutput("ready rank 1 of 2 restart 1", 60s)) << b->Output() << c.Output();
  EXPECT_THAT(c.Output(), HasSubstr("the job's store is now on 127.0.0.2:"));

  b->Signal(SIGKILL);  // and then the store's new host
  ASSERT_TRUE(b->Wait(10s).has_value());
  ASSERT_EQ(c.Wait(120s), 0) << c.Output();
  EXPECT_THAT(c.Output(), HasSubstr("this node hosts it now on 127.0.0.3:"));
  EXPECT_THAT(c.Output(), HasSubstr("ready rank 0 of 1 restart 2"));
  EXPECT_THAT(c.Output(), HasSubstr("job moving succeeded"));
}

// A store host whose process is gone leaves a closed port: the survivors see their heartbeats
// refused at once and fence, without waiting out a heartbeat timeout (here a minute).
TEST(Failover, AClosedPortFencesAtOnceWithoutWaitingForTheHeartbeatTimeout) {
  lt::ScratchDir dir;
  const int port = lt::FreePort();
  const std::string token = lt::WriteToken(dir, "token", "failover-fast-token-0123456789abcdef");
  const std::string job = dir / "patient.yaml";
  std::ofstream(job) << "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\n"
                        "metadata: {name: patient}\nspec:\n  command: [\""
                     << lt::TestWorker()
                     << "\", --sleep-ms, \"4000\"]\n"
                        "  nodes: {min: 1, max: 2}\n"
                        "  failurePolicy: {maxRestarts: 2, backoff: 50ms}\n"
                        // A last call long enough for both agents to be in the first round
                        // however slowly the second starts (a sanitizer build, a busy host).
                        "  rendezvous: {joinTimeout: 60s, lastCall: 5s, heartbeat: 200ms, "
                        "heartbeatTimeout: 60s}\n";
  auto a = std::make_unique<lt::Process>(Agent(job, port, token, 0, dir / "a"), dir / "a.out");
  lt::Process b(Agent(job, port, token, 1, dir / "b"), dir / "b.out");
  ASSERT_TRUE(b.WaitForOutput("ready rank 1 of 2 restart 0", 60s)) << a->Output() << b.Output();
  a->Signal(SIGKILL);
  ASSERT_TRUE(a->Wait(10s).has_value());
  // Well within the minute a timeout would take.
  ASSERT_TRUE(b.WaitForOutput("this node hosts it now on 127.0.0.2:" + std::to_string(port), 20s))
      << b.Output();
  EXPECT_THAT(b.Output(), HasSubstr("(nothing listens there any more): stopping its workers"));
  ASSERT_EQ(b.Wait(60s), 0) << b.Output();
  EXPECT_THAT(b.Output(), HasSubstr("ready rank 0 of 1 restart 1"));
}

TEST(Failover, WithoutAnotherAddressNoNodeTakesOverAndTheStoreIsAwaitedAtItsOwn) {
  lt::ScratchDir dir;
  const int port = lt::FreePort();
  const std::string token = lt::WriteToken(dir, "token", "nowhere-job-token-0123456789abcdef");
  const std::string job = lt::WriteJob(dir, "nowhere", {lt::TestWorker(), "--sleep-ms", "6000"},
                                       "  nodes: {min: 1, max: 2}\n"
                                       "  failurePolicy: {maxRestarts: 3, backoff: 50ms}\n");
  lt::Process a(lt::AgentArgs(job, port, token, 0, dir / "a", true), dir / "a.out");
  lt::Process b(lt::AgentArgs(job, port, token, 1, dir / "b", false), dir / "b.out");
  ASSERT_TRUE(b.WaitForOutput("ready rank 1 of 2", 60s)) << a.Output() << b.Output();
  a.Signal(SIGKILL);
  // Node 1 publishes the store's own address: it is no successor, so it keeps waiting there.
  EXPECT_NE(b.Wait(120s), 0);
  EXPECT_THAT(b.Output(), HasSubstr("fenced"));
  EXPECT_THAT(b.Output(), ::testing::Not(HasSubstr("hosts it now")));
}

// iproute2's `ip` (Process runs programs by path).
constexpr char kIp[] = "/usr/sbin/ip";

// Two hosts: network namespaces on a bridge, 10.201.<id>.1 and .2, removed at the end. A
// partition takes the store host's cable out (its link on the bridge goes down): it keeps its
// own address, and so its store, but reaches no one.
class TwoHosts {
 public:
  TwoHosts() : id_(std::to_string(getpid() % 200 + 20)) {
    const std::string br = "fobr" + id_;
    std::string script = "set -e; ip link add " + br + " type bridge; ip link set " + br + " up";
    for (int i = 0; i < 2; ++i) {
      const std::string ns = Namespace(i), h = "fo" + id_ + "h" + std::to_string(i),
                        n = "fo" + id_ + "n" + std::to_string(i);
      script += "; ip netns add " + ns + "; ip link add " + h + " type veth peer name " + n +
                " netns " + ns + "; ip link set " + h + " master " + br + " up; ip -n " + ns +
                " addr add " + Address(i) + "/24 dev " + n + "; ip -n " + ns + " link set " + n +
                " up; ip -n " + ns + " link set lo up";
    }
    made_ = std::system(("(" + script + ") >/dev/null 2>&1").c_str()) == 0;
  }
  ~TwoHosts() {
    std::system(("ip netns del " + Namespace(0) + "; ip netns del " + Namespace(1) +
                 "; ip link del fobr" + id_ + "; ip link del fo" + id_ + "h0; ip link del fo" +
                 id_ + "h1")
                    .append(" >/dev/null 2>&1")
                    .c_str());
  }
  bool made() const { return made_; }
  std::string Namespace(int host) const { return "fo" + id_ + "ns" + std::to_string(host); }
  std::string Address(int host) const { return "10.201." + id_ + "." + std::to_string(host + 1); }
  // Host 0 reaches no one, and no one reaches it.
  bool Partition() const { return std::system(("ip link set fo" + id_ + "h0 down").c_str()) == 0; }

 private:
  std::string id_;
  bool made_ = false;
};

TEST(Failover, APartitionedStoreHostFencesAndTheOtherSideTakesTheJob) {
  TwoHosts hosts;
  if (access(kIp, X_OK) != 0 || !hosts.made())
    GTEST_SKIP() << "cannot make network namespaces (needs root and iproute2)";
  lt::ScratchDir dir;
  const int port = lt::FreePort();
  const std::string token = lt::WriteToken(dir, "token", "split-job-token-0123456789abcdef");
  const std::string job = lt::WriteJob(dir, "split", {lt::TestWorker(), "--sleep-ms", "8000"},
                                       "  nodes: {min: 1, max: 2}\n"
                                       "  failurePolicy: {maxRestarts: 3, backoff: 50ms}\n");
  const std::string store = hosts.Address(0) + ":" + std::to_string(port);
  std::vector<std::unique_ptr<lt::Process>> agents;
  for (int node = 0; node < 2; ++node) {
    const std::string tag = "n" + std::to_string(node);
    agents.push_back(std::make_unique<lt::Process>(
        std::vector<std::string>{kIp, "netns", "exec", hosts.Namespace(node), lt::Trainctl(),
                                 "agent", job, "--store", store, "--token-file", token,
                                 "--node-rank", std::to_string(node), "--run-dir", dir / tag,
                                 node == 0 ? "--host-store=true" : "--host-store=false",
                                 "--store-bind", hosts.Address(node)},
        dir / (tag + ".out")));
  }
  lt::Process& a = *agents[0];
  lt::Process& b = *agents[1];
  ASSERT_TRUE(b.WaitForOutput("ready rank 1 of 2 restart 0", 60s)) << a.Output() << b.Output();
  ASSERT_TRUE(hosts.Partition());
  const std::string moved = "this node hosts it now on " + hosts.Address(1);
  ASSERT_EQ(b.Wait(180s), 0) << b.Output() << a.Output();
  EXPECT_THAT(b.Output(), HasSubstr(moved));
  EXPECT_THAT(b.Output(), HasSubstr("ready rank 0 of 1 restart 1"));
  // The store's host saw its peer go: without more than half of the last round's nodes it
  // starts no round of its own, and gives up at the join timeout.
  EXPECT_NE(a.Wait(180s), 0) << a.Output();
  const std::string from_a = a.Output();
  EXPECT_THAT(from_a, HasSubstr("was lost"));
  EXPECT_THAT(from_a, HasSubstr("the next round needs 2 of the last round's 2 node(s)"));
  EXPECT_THAT(from_a, HasSubstr("no round formed within the join timeout"));
  EXPECT_THAT(from_a, ::testing::Not(HasSubstr("ready rank 0 of 1"))) << from_a;
}

constexpr int kSteps = 240;

// Two nodes of one worker each, deterministic all-reduce, a checkpoint every 20 steps.
std::string WriteTrainingJob(const lt::ScratchDir& dir, const std::string& name,
                             const fm::Hdf5Data& data) {
  const std::string path = dir / (name + ".yaml");
  std::ofstream(path)
      << "apiVersion: trainctl.dev/v1alpha1\n"
         "kind: TrainingJob\n"
         "metadata: {name: "
      << name << "}\n"
      << "spec:\n"
         "  command: [\""
      << fm::kTrain << "\", --train-data, \"" << data.train << "\", --test-data, \"" << data.test
      << "\", --limit, \"8192\", --global-batch, \"64\", --steps, \"" << kSteps
      << "\", --log-every, \"20\", --deterministic, \"true\"]\n"
         "  procsPerNode: 1\n"
         "  nodes: 2\n"
         "  env: [{name: OPENBLAS_NUM_THREADS, value: \"1\"}]\n"
         "  failurePolicy: {maxRestarts: 2, backoff: 100ms}\n"
         "  collectives: {backend: cpu, timeout: 60s}\n"
         "  checkpoint: {dir: \""
      << dir / (name + "-ckpt") << "\", everySteps: 20, keep: 2}\n"
      << "  rendezvous: {joinTimeout: 180s, heartbeat: 200ms, heartbeatTimeout: 2s}\n";
  return path;
}

TEST(Failover, StoreHostKilledMidTrainingTheJobResumesAtTheNewStoreWithTheCalmRunsParams) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  lt::ScratchDir dir;
  const std::string token = lt::WriteToken(dir, "token", "fm-failover-token-0123456789abcdef");

  const int calm_port = lt::FreePort();
  const std::string calm_job = WriteTrainingJob(dir, "calm", *data);
  lt::Process calm0(Agent(calm_job, calm_port, token, 0, dir / "calm-0"), dir / "calm-0.out");
  lt::Process calm1(Agent(calm_job, calm_port, token, 1, dir / "calm-1"), dir / "calm-1.out");
  ASSERT_EQ(calm0.Wait(600s), 0) << calm0.Output();
  ASSERT_EQ(calm1.Wait(600s), 0) << calm1.Output();
  const std::string expected = fm::FinalValue(calm0.Output(), "params_sha256");
  ASSERT_EQ(expected.size(), 64u) << calm0.Output();

  const int port = lt::FreePort();
  const std::string job = WriteTrainingJob(dir, "fault", *data);
  auto a = std::make_unique<lt::Process>(Agent(job, port, token, 0, dir / "a"), dir / "a.out");
  lt::Process b(Agent(job, port, token, 1, dir / "b"), dir / "b.out");
  ASSERT_TRUE(a->WaitForOutput("step 100/" + std::to_string(kSteps), 600s)) << a->Output();
  a->Signal(SIGKILL);
  ASSERT_TRUE(a->Wait(10s).has_value());
  ASSERT_TRUE(b.WaitForOutput("this node hosts it now on 127.0.0.2:" + std::to_string(port), 120s))
      << b.Output();
  // A replacement node 0 joins the job where its store is now.
  std::vector<std::string> args = Agent(job, port, token, 0, dir / "a2");
  args[4] = "127.0.0.2:" + std::to_string(port);  // --store
  args.back() = "--host-store=false";
  args.push_back("--store-bind");
  args.push_back("127.0.0.3");
  lt::Process a2(args, dir / "a2.out");
  ASSERT_EQ(a2.Wait(600s), 0) << a2.Output() << b.Output();
  ASSERT_EQ(b.Wait(120s), 0) << b.Output();
  EXPECT_THAT(a2.Output(), HasSubstr("resumed from"));
  EXPECT_THAT(a2.Output(),
              HasSubstr("step " + std::to_string(kSteps) + "/" + std::to_string(kSteps)));
  EXPECT_EQ(fm::FinalValue(a2.Output(), "params_sha256"), expected) << a2.Output();
}

}  // namespace
