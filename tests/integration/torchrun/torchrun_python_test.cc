// Python under `trainctl run` as under torchrun: a script path or -m module runs with the
// chosen interpreter (said once), a bare python after -- is that one too, output is unbuffered
// (a SIGKILLed rank's last lines reach its log and the summary), torchrun's variables are set,
// a @record traceback reaches the root-cause summary, and a gloo job meets at MASTER_PORT.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "torchrun_harness.h"

namespace torchrun_test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

#define REQUIRE_PYTHON() \
  if (!HavePython()) GTEST_SKIP() << "/usr/bin/python3 is missing"
#define REQUIRE_TORCH() \
  if (!HaveTorch()) GTEST_SKIP() << "torch is not importable by /usr/bin/python3"

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A directory whose python3 is not the one to use: first on PATH, it fails loudly.
std::string WrongPythonPath(const ScratchDir& dir) {
  WriteFile(dir, "wrong/python3", "#!/bin/sh\necho WRONG PYTHON; exit 3\n", true);
  return dir / "wrong" + ":/usr/bin:/bin";
}

TEST(TorchrunPythonTest, AScriptPathRunsWithTheChosenPythonAndNamesTheJob) {
  REQUIRE_PYTHON();
  ScratchDir dir;
  const std::string script = WritePrintEnv(dir, "train_mnist.py");
  Process run(TrainctlRun({"--nproc_per_node=2", "--run-dir", dir / "run", script, "--epochs", "3"},
                          {{"PATH", WrongPythonPath(dir)}}),
              dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  const std::string out = run.Output();
  EXPECT_THAT(out, HasSubstr("trainctl: Python workers run /usr/bin/python3"));
  EXPECT_THAT(out, HasSubstr("trainctl: job train-mnist: 1 node(s) x 2 worker(s)"));
  for (int rank = 0; rank < 2; ++rank) {
    auto env = EnvOfRank(out, rank);
    EXPECT_EQ(env["EXE"], "/usr/bin/python3") << out;
    EXPECT_EQ(env["ARGS"], "--epochs 3") << "the script's own flags are not trainctl's";
    EXPECT_EQ(env["TORCHELASTIC_RUN_ID"], "train-mnist") << "not the interpreter's name";
    EXPECT_EQ(env["PYTHONUNBUFFERED"], "1");
  }
}

TEST(TorchrunPythonTest, ABarePythonAfterDashDashIsTheChosenOne) {
  REQUIRE_PYTHON();
  ScratchDir dir;
  const std::string script = WritePrintEnv(dir);
  Process run(TrainctlRun({"--nproc", "1", "--run-dir", dir / "run", "--", "python3", script},
                          {{"PATH", WrongPythonPath(dir)}}),
              dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  EXPECT_THAT(run.Output(), Not(HasSubstr("WRONG PYTHON")));
  EXPECT_EQ(EnvOfRank(run.Output(), 0)["EXE"], "/usr/bin/python3");
  EXPECT_EQ(EnvOfRank(run.Output(), 0)["TRAIN_JOB_ID"], "print-env");
  // --python and $TRAINCTL_PYTHON choose another; a wrong one is a usage error.
  Process chosen(TrainctlRun({"--nproc", "1", "--python", "/nonexistent/python", script}),
                 dir / "out2");
  EXPECT_EQ(chosen.Wait(30s), 2);
  EXPECT_THAT(chosen.Output(), HasSubstr("--python names /nonexistent/python"));
}

TEST(TorchrunPythonTest, ModulesRunWithDashMAndNameTheJob) {
  REQUIRE_PYTHON();
  ScratchDir dir;
  WriteFile(dir, "mypkg/__init__.py", "");
  WritePrintEnv(dir, "mypkg/train.py");
  for (const auto& form : std::vector<std::vector<std::string>>{
           {"-m", "mypkg.train", "--lr", "1"}, {"--", "-m", "mypkg.train", "--lr", "1"}}) {
    std::vector<std::string> args = {"--nproc",           "1",         "--working-dir",
                                     dir.path().string(), "--run-dir", dir / "run"};
    args.insert(args.end(), form.begin(), form.end());
    Process run(TrainctlRun(args), dir / "out");
    SCOPED_TRACE(::testing::PrintToString(form));
    ASSERT_EQ(run.Wait(60s), 0) << run.Output();
    auto env = EnvOfRank(run.Output(), 0);
    EXPECT_EQ(env["ARGS"], "--lr 1");
    EXPECT_EQ(env["TRAIN_JOB_ID"], "mypkg-train") << "named after the module, not \"m\"";
  }
}

TEST(TorchrunPythonTest, NoPythonRunsTheFileItself) {
  ScratchDir dir;
  const std::string file = WriteFile(dir, "launch.py", "#!/bin/sh\necho SHELL_RAN rank=$RANK\n",
                                     /*executable=*/true);
  Process run(TrainctlRun({"--nproc", "1", "--no-python", "--run-dir", dir / "run", file}),
              dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("[rank 0] SHELL_RAN rank=0"));
}

TEST(TorchrunPythonTest, ASigkilledRanksLastLinesReachItsLogAndTheSummary) {
  REQUIRE_PYTHON();
  ScratchDir dir;
  // Python block-buffers a pipe: without PYTHONUNBUFFERED these lines die with the process.
  const std::string script = WriteFile(dir, "dies.py",
                                       "import os, signal\n"
                                       "for step in range(1, 4):\n"
                                       "    print(f'step {step} loss 0.{step}')\n"
                                       "os.kill(os.getpid(), signal.SIGKILL)\n");
  Process run(TrainctlRun({"--nproc", "1", "--run-dir", dir / "run", script}), dir / "out");
  ASSERT_EQ(run.Wait(60s), 128 + 9) << run.Output();
  EXPECT_THAT(ReadAll(dir / "run/rank-0.log"), HasSubstr("step 3 loss 0.3\n"));
  EXPECT_THAT(run.Output(), HasSubstr("killed by signal 9"));
  EXPECT_THAT(run.Output(), HasSubstr("  | step 3 loss 0.3"));
}

TEST(TorchrunPythonTest, OmpNumThreadsIsOneForSeveralWorkersUnlessSet) {
  ScratchDir dir;
  Process run(TrainctlRun({"--nproc", "2", "--run-dir", dir / "run", "--", "/usr/bin/env"}),
              dir / "out");
  ASSERT_EQ(run.Wait(60s), 0) << run.Output();
  EXPECT_EQ(EnvOfRank(run.Output(), 1)["OMP_NUM_THREADS"], "1");
  EXPECT_THAT(run.Output(), HasSubstr("setting OMP_NUM_THREADS=1 for each worker"));
  Process set(TrainctlRun({"--nproc", "2", "--run-dir", dir / "run2", "--", "/usr/bin/env"},
                          {{"OMP_NUM_THREADS", "3"}}),
              dir / "out2");
  ASSERT_EQ(set.Wait(60s), 0) << set.Output();
  EXPECT_EQ(EnvOfRank(set.Output(), 1)["OMP_NUM_THREADS"], "3");
  EXPECT_THAT(set.Output(), Not(HasSubstr("setting OMP_NUM_THREADS")));
}

TEST(TorchrunPythonTest, ARecordTracebackReachesTheRootCauseSummary) {
  REQUIRE_TORCH();
  ScratchDir dir;
  const std::string script =
      WriteFile(dir, "record.py",
                "import os, time\n"
                "from torch.distributed.elastic.multiprocessing.errors import record\n"
                "@record\n"
                "def main():\n"
                "    if os.environ['RANK'] == '1':\n"
                "        raise ValueError('bad learning rate 7')\n"
                "    time.sleep(30)\n"
                "main()\n");
  Process run(TrainctlRun({"--nproc", "2", "--run-dir", dir / "run", script}), dir / "out");
  ASSERT_EQ(run.Wait(90s), 1) << run.Output();
  const std::string out = run.Output();
  EXPECT_THAT(out, HasSubstr("rank 1 raised ValueError: bad learning rate 7 (" + dir / "run" +
                             "/rank-1.error.json"));
  EXPECT_THAT(out, HasSubstr("  |     raise ValueError('bad learning rate 7')"));
}

TEST(TorchrunPythonTest, AGlooJobMeetsAtMasterPort) {
  REQUIRE_TORCH();
  ScratchDir dir;
  const std::string script = WriteFile(dir, "allreduce.py",
                                       "import torch, torch.distributed as dist\n"
                                       "dist.init_process_group('gloo', init_method='env://')\n"
                                       "t = torch.tensor([float(dist.get_rank() + 1)])\n"
                                       "dist.all_reduce(t)\n"
                                       "print(f'sum={t.item():g} world={dist.get_world_size()}')\n"
                                       "dist.destroy_process_group()\n");
  Process run(TrainctlRun({"--nproc", "2", "--run-dir", dir / "run", script}), dir / "out");
  ASSERT_EQ(run.Wait(120s), 0) << run.Output();
  EXPECT_THAT(run.Output(), HasSubstr("[rank 0] sum=3 world=2"));
  EXPECT_THAT(run.Output(), HasSubstr("[rank 1] sum=3 world=2"));
}

}  // namespace
}  // namespace torchrun_test
