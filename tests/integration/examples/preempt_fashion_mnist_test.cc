// Preemption of the main example job (Fashion-MNIST, 2 workers), mid-epoch, with real signals:
// SIGTERM (a) to `trainctl run`, then `trainctl run --resume`; (b) to one worker; (c) to one
// agent of a 2-agent job, whose replacement then joins. In each, every rank saves the step under
// way when the signal arrives, the job resumes at exactly that step (0 steps lost: the last
// step printed before is the one before it), and ends with the params_sha256 of a calm run.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fashion_mnist_harness.h"

extern char** environ;

namespace fashion_mnist_test {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kSteps = 400;  // 128 steps an epoch: the signal lands in the first

// A process in the background, its output in a file; without the launcher variables of the
// test's own environment.
class Background {
 public:
  Background(std::vector<std::string> argv, fs::path out) : out_(std::move(out)) {
    pid_ = fork();
    if (pid_ != 0) return;
    const int fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<std::string> names;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      const std::string name(*entry, std::strcspn(*entry, "="));
      if (name.rfind("TRAIN_", 0) == 0 || name.rfind("OMPI_", 0) == 0) names.push_back(name);
    }
    for (const std::string& name : names) unsetenv(name.c_str());
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  ~Background() {
    if (code_) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }

  pid_t pid() const { return pid_; }
  std::string Output() const {
    std::ifstream in(out_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool WaitFor(const std::string& text, std::chrono::seconds limit) const {
    for (const auto until = Clock::now() + limit; Clock::now() < until;) {
      if (Output().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  std::optional<int> Wait(std::chrono::seconds limit) {
    for (const auto until = Clock::now() + limit; !code_ && Clock::now() < until;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else {
        std::this_thread::sleep_for(10ms);
      }
    }
    return code_;
  }

 private:
  fs::path out_;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

// A TCP port on loopback that nothing listens on right now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::vector<long> Numbers(const std::string& text, const std::string& pattern) {
  std::vector<long> out;
  const std::regex re(pattern);
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    out.push_back(std::stol((*it)[1]));
  }
  return out;
}

// The main job's spec, shortened: `nodes` x `procs` workers, a subset, checkpoints every 50.
fs::path WriteSpec(const Hdf5Data& data, const ScratchDir& scratch, const std::string& name,
                   int nodes, int procs) {
  const fs::path job = scratch.path() / (name + ".yaml");
  std::ofstream(job) << "apiVersion: trainctl.dev/v1alpha1\nkind: TrainingJob\nmetadata: {name: "
                     << name << "}\nspec:\n  command: [\"" << kTrain << "\", --train-data, \""
                     << data.train << "\", --test-data, \"" << data.test
                     << "\", --limit, \"8192\", --global-batch, \"64\", --steps, \"" << kSteps
                     << "\", --log-every, \"1\"]\n"
                     << "  nodes: " << nodes << "\n  procsPerNode: " << procs << "\n"
                     << "  env: [{name: OPENBLAS_NUM_THREADS, value: \"1\"}]\n"
                        "  rendezvous: {heartbeat: 200ms, heartbeatTimeout: 3s}\n"
                        "  failurePolicy: {maxRestarts: 3, backoff: 100ms}\n"
                        "  collectives: {backend: cpu, timeout: 60s}\n"
                        "  checkpoint: {dir: \""
                     << (scratch.path() / (name + "-ckpt")).string()
                     << "\", everySteps: 50, keep: 2}\n";
  return job;
}

// The params_sha256 of the job never interrupted (2 workers), computed once.
std::string CalmSha256(const Hdf5Data& data) {
  static ScratchDir* const scratch = new ScratchDir();
  static std::string sha;
  if (sha.empty()) {
    const fs::path job = WriteSpec(data, *scratch, "calm", 1, 2);
    const RunResult calm = RunShell(Quote(kTrainctl) + " run " + Quote(job.string()) +
                                    " --run-dir " + Quote((scratch->path() / "run").string()));
    EXPECT_EQ(calm.exit_code, 0) << calm.output;
    sha = FinalValue(calm.output, "params_sha256");
  }
  return sha;
}

// Waits until rank 0 reported step 100 (mid-epoch), and returns the last step it reported.
long MidEpoch(const Background& run) {
  EXPECT_TRUE(run.WaitFor(" step 100/", 120s)) << run.Output();
  const std::vector<long> printed =
      Numbers(run.Output(), R"(\[rank 0\] epoch \d+/\d+ step (\d+)/)");
  return printed.empty() ? -1 : printed.back();
}

// What the interrupted run shows: the step saved on preemption (rank 0's log), after the last
// step printed before the signal, with no step printed after the one before it.
long SavedStep(const std::string& out, long printed_before_signal) {
  const std::vector<long> saved = Numbers(out, R"(preemption: saved step (\d+))");
  EXPECT_EQ(saved.size(), 1u) << out;
  if (saved.empty()) return -1;
  EXPECT_GT(saved[0], printed_before_signal) << out;
  EXPECT_LT(saved[0], kSteps) << out;
  const std::vector<long> printed = Numbers(out, R"(\[rank 0\] epoch \d+/\d+ step (\d+)/)");
  EXPECT_FALSE(printed.empty()) << out;
  if (printed.empty()) return -1;
  EXPECT_EQ(printed.back(), saved[0] - 1) << "the saved step is the one under way\n" << out;
  return saved[0];
}

std::string ResumedLine(long step) {
  return "/step-" + std::to_string(step) + " (step " + std::to_string(step) + ")";
}

// The pid of the Fashion-MNIST worker of rank `rank` that the run with `run_dir` started.
pid_t WorkerPid(const fs::path& run_dir, int rank) {
  const std::string token = "TRAIN_TOKEN_FILE=" + (run_dir / "token").string();
  const std::string rank_var = "TRAIN_RANK=" + std::to_string(rank);
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string env;
    try {
      std::ifstream in(entry.path() / "environ", std::ios::binary);
      env.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
      continue;  // the process exited while it was read (ESRCH)
    }
    std::vector<std::string> vars;
    for (std::size_t at = 0; at < env.size();) {
      const std::size_t end = env.find('\0', at);
      vars.push_back(env.substr(at, end == std::string::npos ? std::string::npos : end - at));
      at = end == std::string::npos ? env.size() : end + 1;
    }
    const auto has = [&](const std::string& v) {
      return std::find(vars.begin(), vars.end(), v) != vars.end();
    };
    std::error_code ec;
    if (has(token) && has(rank_var) && fs::read_symlink(entry.path() / "exe", ec) == kTrain) {
      return static_cast<pid_t>(std::stol(name));
    }
  }
  return -1;
}

TEST(PreemptFashionMnist, SigtermToTrainctlRunThenResumeLosesNoStep) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  const std::string calm = CalmSha256(*data);
  ASSERT_EQ(calm.size(), 64u);
  ScratchDir scratch;
  const fs::path job = WriteSpec(*data, scratch, "stopped", 1, 2);
  Background run({kTrainctl, "run", job.string(), "--run-dir", (scratch.path() / "run1").string()},
                 scratch.path() / "run1.out");
  const long before = MidEpoch(run);
  kill(run.pid(), SIGTERM);
  ASSERT_EQ(run.Wait(120s), 75) << run.Output();
  const long saved = SavedStep(run.Output(), before);
  EXPECT_THAT(run.Output(), HasSubstr("rank(s) 0,1 saved step " + std::to_string(saved)));

  const RunResult resumed =
      RunShell(Quote(kTrainctl) + " run " + Quote(job.string()) + " --resume --run-dir " +
               Quote((scratch.path() / "run2").string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr(ResumedLine(saved)));
  EXPECT_EQ(FinalValue(resumed.output, "params_sha256"), calm) << resumed.output;
}

TEST(PreemptFashionMnist, SigtermToOneWorkerRestartsTheGroupAtItsStep) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  const std::string calm = CalmSha256(*data);
  ScratchDir scratch;
  const fs::path job = WriteSpec(*data, scratch, "worker", 1, 2);
  const fs::path run_dir = scratch.path() / "run";
  Background run({kTrainctl, "run", job.string(), "--run-dir", run_dir.string()},
                 scratch.path() / "run.out");
  const long before = MidEpoch(run);
  const pid_t rank1 = WorkerPid(run_dir, 1);
  ASSERT_GT(rank1, 0) << run.Output();
  kill(rank1, SIGTERM);  // rank 0 got no signal: it learns at the step's end
  ASSERT_EQ(run.Wait(120s), 0) << run.Output();
  const std::string out = run.Output();
  const std::string first_round = out.substr(0, out.find("round 1:"));
  const long saved = SavedStep(first_round, before);
  EXPECT_THAT(out, HasSubstr("restarting (preemption: not counted against maxRestarts, 0 of 3 "
                             "used)"));
  EXPECT_EQ(Numbers(out, R"(resumed from \S+/step-(\d+) )"), (std::vector<long>{saved, saved}))
      << out;
  EXPECT_EQ(FinalValue(out, "params_sha256"), calm) << out;
}

TEST(PreemptFashionMnist, SigtermToOneAgentOfTwoAndItsReplacementLosesNoStep) {
  SKIP_WITHOUT_FASHION_MNIST(data);
  const std::string calm = CalmSha256(*data);
  ScratchDir scratch;
  const fs::path job = WriteSpec(*data, scratch, "agents", 2, 1);
  const fs::path token = scratch.path() / "token";
  std::ofstream(token) << "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
  fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
  const std::string store = "127.0.0.1:" + std::to_string(FreePort());
  auto agent = [&](int node, const std::string& name, bool host) {
    std::vector<std::string> argv = {kTrainctl,
                                     "agent",
                                     job.string(),
                                     "--store",
                                     store,
                                     "--token-file",
                                     token.string(),
                                     "--node-rank",
                                     std::to_string(node),
                                     "--run-dir",
                                     (scratch.path() / name).string()};
    if (host) argv.push_back("--host-store");
    return std::make_unique<Background>(argv, scratch.path() / (name + ".out"));
  };
  auto node0 = agent(0, "node0", true);
  auto node1 = agent(1, "node1", false);
  const long before = MidEpoch(*node0);
  kill(node1->pid(), SIGTERM);  // its pod is evicted
  ASSERT_EQ(node1->Wait(120s), 75) << node1->Output();
  EXPECT_THAT(node1->Output(), HasSubstr("node 1: rank(s) 1 saved step "));
  auto replacement = agent(1, "node1-again", false);  // the pod that replaces it
  ASSERT_EQ(node0->Wait(180s), 0) << node0->Output() << replacement->Output();
  ASSERT_EQ(replacement->Wait(60s), 0) << replacement->Output();
  const std::string out = node0->Output();
  const long saved = SavedStep(out.substr(0, out.find("round 1:")), before);
  EXPECT_THAT(out, HasSubstr("node 1 (")) << out;
  EXPECT_THAT(out, HasSubstr("restarting (preemption: not counted against maxRestarts"));
  EXPECT_EQ(Numbers(out, R"(resumed from \S+/step-(\d+) )"), (std::vector<long>{saved})) << out;
  EXPECT_EQ(Numbers(replacement->Output(), R"(resumed from \S+/step-(\d+) )"),
            (std::vector<long>{saved}))
      << replacement->Output();
  EXPECT_EQ(FinalValue(out, "params_sha256"), calm) << out;
}

}  // namespace
}  // namespace fashion_mnist_test
