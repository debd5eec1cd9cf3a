// torchrun's command line under trainctl: where the script starts, which Python runs it, what
// --nproc auto means, and each torchrun flag's meaning for run and agent.
#include "torchrun_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace trainctl::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// What trainctl's options do with the next argument, as CLI11 knows them.
OptionValue TakesValue(const std::string& name) {
  static const std::set<std::string> with_value = {
      "--nproc",  "--nproc_per_node", "--nnodes", "--run-dir",
      "--python", "--rdzv-endpoint",  "--store"};
  if (name == "--host-store") return OptionValue::kOptional;
  return with_value.count(name) != 0 ? OptionValue::kRequired : OptionValue::kNone;
}

TEST(TorchrunFlagsTest, TheScriptStartsAtTheFirstPositionalThatIsNotAJobFile) {
  const std::vector<std::string> args = {"trainctl", "run",      "--nproc", "2",
                                         "train.py", "--epochs", "3"};
  EXPECT_EQ(FindScript(args, 2, TakesValue), 4u);
  // --flag=value takes no second argument; flags (-m) take none at all.
  EXPECT_EQ(
      FindScript({"t", "run", "--nproc_per_node=2", "-m", "pkg.train", "--lr", "1"}, 2, TakesValue),
      4u);
  // A JOB file is not a script: flags may follow it.
  EXPECT_EQ(FindScript({"t", "run", "job.yaml", "--nproc", "8"}, 2, TakesValue), 5u);
  EXPECT_EQ(FindScript({"t", "run", "--nproc", "2", "--", "./train"}, 2, TakesValue), 6u);
  EXPECT_EQ(FindScript({"t", "run", "--nproc", "2", "./train", "--", "x"}, 2, TakesValue), 4u);
  // An optional value is taken unless it is an option (trainctl render's pods pass both).
  const std::vector<std::string> pod = {"t",    "agent",   "job.yaml",       "--host-store",
                                        "auto", "--store", "job-0.job:29400"};
  EXPECT_EQ(FindScript(pod, 2, TakesValue), pod.size());
  EXPECT_EQ(FindScript({"t", "agent", "--host-store", "--store", "a:1", "x.py"}, 2, TakesValue),
            5u);
}

// A PythonSearch where exactly `present` are executable.
PythonSearch Search(std::set<std::string> present) {
  PythonSearch search;
  search.path = "/opt/pyenv/shims:/usr/local/bin:/usr/bin";
  search.executable = [present](const std::string& path) { return present.count(path) != 0; };
  return search;
}

TEST(TorchrunFlagsTest, PythonIsChosenByADocumentedRule) {
  auto search =
      Search({"/usr/bin/python3", "/opt/pyenv/shims/python3", "/venv/bin/python", "/x/python"});
  EXPECT_EQ(ChoosePython(search)->interpreter, "/usr/bin/python3") << "not the first on PATH";
  search.virtual_env = "/venv";
  EXPECT_EQ(ChoosePython(search)->interpreter, "/venv/bin/python");
  search.trainctl_python = "/x/python";
  EXPECT_EQ(ChoosePython(search)->interpreter, "/x/python");
  EXPECT_EQ(ChoosePython(search)->why, "$TRAINCTL_PYTHON");
  search.flag = "/nope/python";
  auto bad = ChoosePython(search);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("--python names /nope/python"));
  // Without /usr/bin/python3: the first python3 on PATH.
  EXPECT_EQ(ChoosePython(Search({"/usr/local/bin/python3"}))->interpreter,
            "/usr/local/bin/python3");
  auto none = ChoosePython(Search({}));
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("--python PATH"));
}

train::Result<WorkerCommand> Build(std::vector<std::string> command, bool module = false,
                                   bool no_python = false) {
  return BuildWorkerCommand(command, module, no_python, [] {
    return train::Result<PythonChoice>(PythonChoice{"/py", "test"});
  });
}

TEST(TorchrunFlagsTest, ScriptsAndModulesRunWithPythonAndNameTheJob) {
  auto script = Build({"examples/train_mnist.py", "--lr", "0.1"});
  ASSERT_TRUE(script.ok());
  EXPECT_THAT(script->argv, ElementsAre("/py", "examples/train_mnist.py", "--lr", "0.1"));
  EXPECT_EQ(script->job_name, "train-mnist");
  EXPECT_THAT(script->python_note, HasSubstr("/py"));

  auto module = Build({"pkg.train", "--x"}, /*module=*/true);
  EXPECT_THAT(module->argv, ElementsAre("/py", "-m", "pkg.train", "--x"));
  EXPECT_EQ(module->job_name, "pkg-train");
  // `-- -m mod`: the same, and the job is not named "m".
  auto dashed = Build({"-m", "json.tool"});
  EXPECT_THAT(dashed->argv, ElementsAre("/py", "-m", "json.tool"));
  EXPECT_EQ(dashed->job_name, "json-tool");

  // A bare python after -- is the chosen one, not the first on PATH; the job is the script's.
  auto bare = Build({"python3", "-u", "x.py"});
  EXPECT_THAT(bare->argv, ElementsAre("/py", "-u", "x.py"));
  EXPECT_EQ(bare->job_name, "x");
  auto bare_module = Build({"python", "-m", "pkg.mod"});
  EXPECT_EQ(bare_module->job_name, "pkg-mod");
  // An explicit interpreter is kept; the job is still named after the script.
  auto explicit_python = Build({"/usr/bin/python3.11", "y.py"});
  EXPECT_THAT(explicit_python->argv, ElementsAre("/usr/bin/python3.11", "y.py"));
  EXPECT_EQ(explicit_python->job_name, "y");
  EXPECT_EQ(explicit_python->python_note, "");
  // Programs and --no-python: as given.
  EXPECT_THAT(Build({"./train", "--epochs", "3"})->argv, ElementsAre("./train", "--epochs", "3"));
  EXPECT_THAT(Build({"run.py"}, false, /*no_python=*/true)->argv, ElementsAre("run.py"));

  auto both = Build({"pkg"}, true, true);
  ASSERT_FALSE(both.ok());
  EXPECT_THAT(both.status().message(), HasSubstr("-m and --no-python"));
}

TEST(TorchrunFlagsTest, NprocAutoIsGpusElseCpus) {
  EXPECT_EQ(*ResolveNproc("", {}), -1);
  EXPECT_EQ(*ResolveNproc("4", {}), 4);
  EXPECT_EQ(*ResolveNproc("auto", {0, 16}), 16);
  EXPECT_EQ(*ResolveNproc("auto", {8, 16}), 8);
  EXPECT_EQ(*ResolveNproc("cpu", {8, 16}), 16);
  EXPECT_EQ(*ResolveNproc("gpu", {8, 16}), 8);
  EXPECT_THAT(ResolveNproc("gpu", {0, 16}).status().message(), HasSubstr("no GPU"));
  EXPECT_THAT(ResolveNproc("four", {}).status().message(), HasSubstr("auto"));
  EXPECT_EQ(*ResolveNproc("0", {}), 0) << "left to the spec's validation (procsPerNode >= 1)";
  const Processors here = CountProcessors({});
  EXPECT_GE(here.cpus, 1);
}

train::Result<std::vector<std::string>> ApplyRun(const TorchrunFlags& torchrun, JobFlags* job) {
  return ApplyTorchrunFlags(torchrun, {{"PATH", "/usr/bin"}}, job, nullptr);
}

TEST(TorchrunFlagsTest, RunKeepsTorchrunsMeanings) {
  TorchrunFlags t;
  t.nproc = "3";
  t.rdzv_id = "my-run";
  t.role = "trainer";
  t.standalone = true;
  t.node_rank = "0";
  t.monitor_interval = "0.5";
  t.start_method = "spawn";
  t.rdzv_endpoint = "localhost:29400";
  JobFlags job;
  job.command = {"./train"};
  auto notes = ApplyRun(t, &job);
  ASSERT_TRUE(notes.ok()) << notes.status();
  EXPECT_EQ(job.nproc, 3);
  EXPECT_EQ(job.job_name, "my-run");
  EXPECT_EQ(job.role, "trainer");
  EXPECT_EQ(job.rdzv_endpoint, "localhost:29400");
  EXPECT_TRUE(notes->empty());

  TorchrunFlags quiet;
  quiet.tee = "3";
  quiet.master_port = 29501;
  JobFlags job2;
  job2.command = {"./train"};
  auto noted = ApplyRun(quiet, &job2);
  ASSERT_TRUE(noted.ok());
  EXPECT_EQ(noted->size(), 2u) << "--tee and --master-port are accepted, with a note each";
}

TEST(TorchrunFlagsTest, RunRefusesWhatItCannotMeanAndSaysWhatToUse) {
  auto refused = [](TorchrunFlags t, std::string nnodes = "") {
    JobFlags job;
    job.command = {"./train"};
    job.nnodes = nnodes;
    auto result = ApplyRun(t, &job);
    return result.ok() ? std::string("accepted") : result.status().message();
  };
  TorchrunFlags log_dir;
  log_dir.log_dir = "/tmp/logs";
  EXPECT_THAT(refused(log_dir), HasSubstr("use --run-dir /tmp/logs"));
  TorchrunFlags node1;
  node1.node_rank = "1";
  EXPECT_THAT(refused(node1), HasSubstr("trainctl agent --node-rank 1"));
  TorchrunFlags standalone;
  standalone.standalone = true;
  EXPECT_THAT(refused(standalone, "2"), HasSubstr("--standalone runs one node"));
  TorchrunFlags bad_id;
  bad_id.rdzv_id = "My_Job";
  EXPECT_THAT(refused(bad_id), HasSubstr("--rdzv-id \"My_Job\""));
  TorchrunFlags interval;
  interval.monitor_interval = "soon";
  EXPECT_THAT(refused(interval), HasSubstr("--monitor-interval"));
  TorchrunFlags port;
  port.master_port = 70000;
  EXPECT_THAT(refused(port), HasSubstr("1 to 65535"));
  // Command-line Python options with a JOB.yaml: the spec names its program.
  TorchrunFlags python;
  python.no_python = true;
  JobFlags with_file;
  with_file.job_file = "job.yaml";
  auto result = ApplyRun(python, &with_file);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.status().message(), HasSubstr("spec.command"));
}

TEST(TorchrunFlagsTest, AgentReadsTheStaticRendezvous) {
  TorchrunFlags t;
  t.master_addr = "10.0.0.1";
  t.master_port = 29500;
  t.rdzv_id = "job-7";
  JobFlags job;
  AgentFlags agent;
  ASSERT_TRUE(ApplyTorchrunFlags(t, {}, &job, &agent).ok());
  EXPECT_EQ(agent.store, "10.0.0.1:29500");
  EXPECT_EQ(agent.host_store, "auto") << "node 0 serves it, as torchrun's static rendezvous";
  EXPECT_EQ(agent.job_id, "job-7");

  TorchrunFlags endpoint;
  endpoint.rdzv_endpoint = "node0:29400";
  AgentFlags agent2;
  ASSERT_TRUE(ApplyTorchrunFlags(endpoint, {}, &job, &agent2).ok());
  EXPECT_EQ(agent2.store, "node0:29400");
  EXPECT_EQ(agent2.host_store, "");

  AgentFlags conflicting;
  conflicting.store = "other:1";
  EXPECT_FALSE(ApplyTorchrunFlags(endpoint, {}, &job, &conflicting).ok());
  TorchrunFlags standalone;
  standalone.standalone = true;
  AgentFlags agent3;
  EXPECT_THAT(ApplyTorchrunFlags(standalone, {}, &job, &agent3).status().message(),
              HasSubstr("use trainctl run"));
}

TEST(TorchrunFlagsTest, TheJobTakesTheNameAndRole) {
  trainctl::v1alpha1::TrainingJob job;
  job.mutable_metadata()->set_name("python3");
  auto* existing = job.mutable_spec()->add_env();
  existing->set_name("ROLE_NAME");
  existing->set_value("old");
  JobFlags flags;
  flags.job_name = "train";
  flags.role = "trainer";
  ASSERT_TRUE(ApplyJobOverrides(flags, &job).ok());
  EXPECT_EQ(job.metadata().name(), "train");
  ASSERT_EQ(job.spec().env_size(), 1);
  EXPECT_EQ(job.spec().env(0).value(), "trainer");
  EXPECT_EQ(JobNameFrom("./Train_MNIST.py"), "train-mnist");
  EXPECT_EQ(JobNameFrom("__main__"), "main");
}

}  // namespace
}  // namespace trainctl::cli
