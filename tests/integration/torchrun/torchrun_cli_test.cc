// torchrun's flags on `trainctl run`, end to end: each spelling is accepted with torchrun's
// meaning (seen in the workers' environment), or refused with what to use instead.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <filesystem>

#include "torchrun_harness.h"

namespace torchrun_test {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct Case {
  std::vector<std::string> flags;
  std::map<std::string, std::string> expected;  // in rank 0's environment
};

TEST(TorchrunCliTest, TorchrunsSpellingsKeepTheirMeaning) {
  ScratchDir dir;
  const std::string store_port = std::to_string(launcher_test::FreePort());
  const std::vector<Case> cases = {
      {{"--nproc-per-node", "2"}, {{"WORLD_SIZE", "2"}}},
      {{"--nproc_per_node=2"}, {{"LOCAL_WORLD_SIZE", "2"}}},
      {{"--nproc_per_node", "1", "--standalone", "--nnodes", "1", "--node_rank", "0"},
       {{"WORLD_SIZE", "1"}}},
      {{"--nproc=1", "--max_restarts=2", "--monitor_interval", "0.5", "--start_method", "spawn",
        "--tee", "3", "--redirects", "3", "--role", "trainer"},
       {{"TORCHELASTIC_MAX_RESTARTS", "2"}, {"ROLE_NAME", "trainer"}, {"ROLE_RANK", "0"}}},
      {{"--nproc", "1", "--rdzv_id", "my-run"},
       {{"TORCHELASTIC_RUN_ID", "my-run"}, {"TRAIN_JOB_ID", "my-run"}}},
      {{"--nproc", "1", "--rdzv_endpoint=127.0.0.1:" + store_port},
       {{"TRAIN_STORE_ADDR", "127.0.0.1:" + store_port}}},
      {{"--nproc", "1", "--rdzv-backend", "c10d", "--master_addr", "127.0.0.1", "--master_port",
        "29501", "--local_addr", "127.0.0.1"},
       {{"MASTER_ADDR", "127.0.0.1"}}},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.flags;
    args.insert(args.end(), {"--run-dir", dir / "run", "--", "/usr/bin/env"});
    Process run(TrainctlRun(args), dir / "out");
    const auto code = run.Wait(60s);
    const std::string out = run.Output();
    SCOPED_TRACE(::testing::PrintToString(c.flags) + "\n" + out);
    ASSERT_EQ(code, 0);
    auto env = EnvOfRank(out, 0);
    for (const auto& [name, value] : c.expected) EXPECT_EQ(env[name], value) << name;
    EXPECT_EQ(env["TORCHELASTIC_USE_AGENT_STORE"], "False");
  }
}

TEST(TorchrunCliTest, NprocAutoIsOneWorkerPerCpuWithoutGpus) {
  if (std::filesystem::exists("/dev/nvidia0")) GTEST_SKIP() << "GPUs here: auto counts them";
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  ScratchDir dir;
  Process run(TrainctlRun({"--nproc", "auto", "--run-dir", dir / "run", "--", "/usr/bin/env"}),
              dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  EXPECT_EQ(EnvOfRank(run.Output(), 0)["LOCAL_WORLD_SIZE"], std::to_string(CPU_COUNT(&set)));
  EXPECT_THAT(run.Output(), HasSubstr("--nproc auto: " + std::to_string(CPU_COUNT(&set))));
}

TEST(TorchrunCliTest, AnElasticRangeStartsItsMinimumHereAsTorchrunDoes) {
  ScratchDir dir;
  Process run(TrainctlRun({"--nnodes", "1:2", "--nproc", "2", "--run-dir", dir / "run", "--",
                           "/usr/bin/env"}),
              dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  const std::string out = run.Output();
  EXPECT_THAT(out, HasSubstr("1 (elastic 1:2) node(s) x 2 worker(s)"));
  EXPECT_EQ(EnvOfRank(out, 0)["WORLD_SIZE"], "2") << out;
  EXPECT_EQ(EnvOfRank(out, 0)["GROUP_WORLD_SIZE"], "1");
  EXPECT_TRUE(EnvOfRank(out, 2).empty()) << "no second agent was started";
}

TEST(TorchrunCliTest, FlagsWithoutAMeaningHereAreRefusedWithWhatToUse) {
  ScratchDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--log-dir", dir / "logs"}, "use --run-dir"},
      {{"--log_dir=" + dir / "logs"}, "use --run-dir"},
      {{"--node_rank", "1"}, "trainctl agent --node-rank 1"},
      {{"--standalone", "--nnodes", "2"}, "--standalone runs one node"},
      {{"--nproc", "many"}, "auto (one per GPU, else per CPU)"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = flags;
    args.insert(args.end(), {"--", "/usr/bin/true"});
    Process run(TrainctlRun(args), dir / "out");
    SCOPED_TRACE(::testing::PrintToString(flags));
    EXPECT_EQ(run.Wait(30s), 2) << run.Output();
    EXPECT_THAT(run.Output(), HasSubstr(message));
    EXPECT_THAT(run.Output(), ::testing::Not(HasSubstr("was not expected")));
  }
}

TEST(TorchrunCliTest, HelpShowsEveryForm) {
  ScratchDir dir;
  Process help(TrainctlRun({"--help"}), dir / "out");
  ASSERT_EQ(help.Wait(30s), 0);
  const std::string out = help.Output();
  EXPECT_THAT(out, HasSubstr("trainctl run [OPTIONS] JOB.yaml"));
  EXPECT_THAT(out, HasSubstr("trainctl run [OPTIONS] SCRIPT.py [ARGS...]"));
  EXPECT_THAT(out, HasSubstr("trainctl run [OPTIONS] -m MODULE [ARGS...]"));
  EXPECT_THAT(out, HasSubstr("trainctl run [OPTIONS] -- COMMAND [ARGS...]"));
  EXPECT_THAT(out, HasSubstr("--nproc,--nproc-per-node,--nproc_per_node"));
  EXPECT_THAT(out, HasSubstr("trainctl run --nproc 2 train.py --epochs 3"));
  EXPECT_THAT(out, HasSubstr("trainctl run --nnodes 2"));
  EXPECT_THAT(out, HasSubstr("trainctl agent job.yaml"));
}

TEST(TorchrunCliTest, EveryRunLeavesTensorBoardEvents) {
  ScratchDir dir;
  Process run(TrainctlRun({"--nproc", "1", "--run-dir", dir / "run", "--", "/usr/bin/true"}),
              dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  bool found = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "run" / "tb")) {
    found |= entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  }
  EXPECT_TRUE(found) << "RUN_DIR/tb holds an event file for tensorboard --logdir";
}

}  // namespace
}  // namespace torchrun_test
