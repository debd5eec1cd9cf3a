// `trainctl data import` as a process against inputs built to hurt, under a memory limit and
// under signals: a clear error and exit code, never an abort, and no temporary file or partial
// output left behind (a SIGKILLed import's temporary file is removed by the next import).
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../../sanitizer_build.h"
#include "command.h"
#include "datatools_test_util.h"

namespace trainctl::data {
namespace {

using ::testing::ElementsAre;
using testing::EntryNames;
using ::testing::HasSubstr;
using testing::IdxBytes;
using testing::ScratchDir;
using testing::SomeBytes;
using testing::WriteBytes;

// trainctl started with fork and exec, optionally under RLIMIT_AS; killed when the test ends
// if it still runs, whatever the test's outcome.
class Trainctl {
 public:
  Trainctl(std::vector<std::string> args, uint64_t memory_limit = 0) {
    args.insert(args.begin(), TRAINCTL_BINARY);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      dup2(out[1], STDERR_FILENO);
      if (memory_limit > 0) {
        const rlimit limit{memory_limit, memory_limit};
        if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(98);
      }
      execv(argv[0], argv.data());
      _exit(99);
    }
    close(out[1]);
    output_fd_ = out[0];
  }
  ~Trainctl() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (output_fd_ >= 0) close(output_fd_);
  }
  Trainctl(const Trainctl&) = delete;
  Trainctl& operator=(const Trainctl&) = delete;

  pid_t pid() const { return pid_; }

  // Waits for the exit; returns the wait status and collects the output.
  int Wait() {
    char buffer[4096];
    ssize_t n;
    while ((n = read(output_fd_, buffer, sizeof(buffer))) > 0) output_.append(buffer, n);
    int status = -1;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int output_fd_ = -1;
  bool reaped_ = false;
  std::string output_;
};

constexpr uint64_t kMemoryLimit = uint64_t{128} << 20;

// Runs to the end and expects a clean failure: exit 1 (not a signal), `message` printed.
void ExpectCleanFailure(Trainctl& run, const std::string& message) {
  const int status = run.Wait();
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << ": " << run.output();
  EXPECT_EQ(WEXITSTATUS(status), 1) << run.output();
  EXPECT_THAT(run.output(), HasSubstr(message));
}

TEST(HostileCliTest, AnOverflowingRowCountIsAnErrorNotAnAbort) {
  ScratchDir dir;
  testing::WriteText(dir / "big.csv", "99999999999999999999999,3\na,b,c\n1,2,3\n");
  Trainctl run({"data", "import", "csv", dir / "big.csv", "-o", dir / "out.h5"});
  ExpectCleanFailure(run, "big.csv:1:1: the first line declares \"99999999999999999999999\"");
  EXPECT_THAT(EntryNames(dir), ElementsAre("big.csv"));
}

TEST(HostileCliTest, AGzipIdxClaimingGigabytesUnderAMemoryLimit) {
  TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN();
  // A few dozen bytes claiming 2 x 3 GiB: the import allocated the claim, aborted on
  // bad_alloc under the limit and left its temporary file.
  ScratchDir dir;
  WriteBytes(dir / "images.gz", IdxBytes(0x08, {2, 3u << 30}, {}), true);
  WriteBytes(dir / "labels.gz", IdxBytes(0x08, {2}, {1, 2}), true);
  Trainctl run({"data", "import", "idx", "--images", dir / "images.gz", "--labels",
                dir / "labels.gz", "-o", dir / "out.h5"},
               kMemoryLimit);
  ExpectCleanFailure(run, "images.gz: the header says 2x3221225472 uint8: rows of more than");
  EXPECT_THAT(EntryNames(dir), ElementsAre("images.gz", "labels.gz"));
}

TEST(HostileCliTest, ACsvGzipBombUnderAMemoryLimit) {
  TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN();
  // 256 MiB of one line, gzip'd to ~256 KiB: read whole into memory before.
  ScratchDir dir;
  const std::string path = dir / "bomb.csv.gz";
  gzFile file = gzopen(path.c_str(), "wb1");
  ASSERT_NE(file, nullptr);
  gzputs(file, "a,b\n");
  const std::string block(1 << 20, '7');
  for (int i = 0; i < 256; ++i) ASSERT_GT(gzwrite(file, block.data(), 1 << 20), 0);
  ASSERT_EQ(gzclose(file), Z_OK);
  Trainctl run({"data", "import", "csv", path, "-o", dir / "out.h5"}, kMemoryLimit);
  ExpectCleanFailure(run, "bomb.csv.gz:2: a line longer than 8 MiB");
  EXPECT_THAT(EntryNames(dir), ElementsAre("bomb.csv.gz"));
}

TEST(HostileCliTest, RunningOutOfMemoryMidImportIsAnErrorAndLeavesNothing) {
  TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN();
  // Two 48 MiB images, honest, but more than the limit lets the import hold.
  ScratchDir dir;
  const std::string images = dir / "images.gz";
  gzFile file = gzopen(images.c_str(), "wb1");
  ASSERT_NE(file, nullptr);
  const std::vector<uint8_t> header = IdxBytes(0x08, {2, 48, 1024, 1024}, {});
  ASSERT_GT(gzwrite(file, header.data(), static_cast<unsigned>(header.size())), 0);
  const std::vector<uint8_t> zeros(1 << 20, 0);
  for (int i = 0; i < 96; ++i) ASSERT_GT(gzwrite(file, zeros.data(), 1 << 20), 0);
  ASSERT_EQ(gzclose(file), Z_OK);
  WriteBytes(dir / "labels.gz", IdxBytes(0x08, {2}, {1, 2}), true);
  Trainctl run({"data", "import", "idx", "--images", images, "--labels", dir / "labels.gz", "-o",
                dir / "out.h5"},
               kMemoryLimit);
  ExpectCleanFailure(run, "out of memory");
  EXPECT_THAT(EntryNames(dir), ElementsAre("images.gz", "labels.gz"));
}

// An import whose images come from a pipe that delivers a header and part of the rows, then
// nothing: it stays under way, its temporary file written, until the test acts. (zlib reads a
// pipe in 256 KiB gulps, so more than that is delivered.)
class StalledImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    images_ = dir_ / "images";
    ASSERT_EQ(mkfifo(images_.c_str(), 0600), 0);
    WriteBytes(dir_ / "labels", IdxBytes(0x08, {1000}, SomeBytes(1000, 2)), false);
    // Read-write: opening does not wait for a reader, and the pipe never reports its end.
    fifo_ = open(images_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    ASSERT_GE(fifo_, 0);
    writer_ = std::thread([this] {
      const std::vector<uint8_t> bytes = IdxBytes(0x08, {1000, 32, 32}, SomeBytes(600 << 10, 1));
      size_t done = 0;
      while (done < bytes.size() && !stop_) {
        const ssize_t n = write(fifo_, bytes.data() + done, bytes.size() - done);
        if (n > 0) {
          done += static_cast<size_t>(n);
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the pipe is full
        }
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    if (writer_.joinable()) writer_.join();
    if (fifo_ >= 0) close(fifo_);
  }

  std::vector<std::string> Args() const {
    return {"data",     "import",        "idx", "--images", images_,
            "--labels", dir_ / "labels", "-o",  output()};
  }
  std::string output() const { return dir_ / "out.h5"; }

  // The temporary file's name, once it exists (polled, with a deadline).
  std::string WaitForTempFile() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const std::string& name : EntryNames(dir_)) {
        if (name.rfind(".out.h5.tmp-", 0) == 0) return name;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return "";
  }

  ScratchDir dir_;
  std::string images_;
  int fifo_ = -1;
  std::atomic<bool> stop_{false};
  std::thread writer_;
};

TEST_F(StalledImportTest, SigtermStopsABlockedReadAndLeavesNothing) {
  Trainctl run(Args());
  ASSERT_NE(WaitForTempFile(), "") << "the import never started writing";
  kill(run.pid(), SIGTERM);
  const int status = run.Wait();
  ASSERT_TRUE(WIFEXITED(status)) << "killed instead of stopping cleanly: " << run.output();
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
  EXPECT_THAT(run.output(), HasSubstr("stopped by signal 15; nothing was written"));
  EXPECT_THAT(EntryNames(dir_), ElementsAre("images", "labels"));
}

TEST_F(StalledImportTest, ASecondSignalRemovesTheTemporaryFileBeforeDying) {
  Trainctl run(Args());
  ASSERT_NE(WaitForTempFile(), "");
  // Both arrive together when the process continues: the second one's handler runs before the
  // import can clean up by itself, so the handler must remove the file.
  kill(run.pid(), SIGSTOP);
  kill(run.pid(), SIGINT);
  kill(run.pid(), SIGTERM);
  kill(run.pid(), SIGCONT);
  const int status = run.Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "exited " << WEXITSTATUS(status) << ": " << run.output();
  EXPECT_THAT(EntryNames(dir_), ElementsAre("images", "labels"));
}

TEST_F(StalledImportTest, AfterSigkillTheNextImportRemovesTheStaleTemporaryFile) {
  std::string temp;
  {
    Trainctl run(Args());
    temp = WaitForTempFile();
    ASSERT_NE(temp, "");
    kill(run.pid(), SIGKILL);
    run.Wait();
  }
  EXPECT_THAT(EntryNames(dir_), ElementsAre(temp, "images", "labels")) << "SIGKILL cannot clean";
  WriteBytes(dir_ / "images.gz", IdxBytes(0x08, {1000, 32, 32}, SomeBytes(1000 << 10, 1)), true);
  auto again = testing::Data("import idx --images " + dir_ / "images.gz" + " --labels " +
                             dir_ / "labels" + " -o " + output());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(EntryNames(dir_), ElementsAre("images", "images.gz", "labels", "out.h5"));
}

}  // namespace
}  // namespace trainctl::data
