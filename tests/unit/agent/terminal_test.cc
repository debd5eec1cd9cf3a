#include "terminal.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent_test_util.h"

namespace trainctl::agent {
namespace {

using testing::CapturedTerminal;
using ::train::testing::ScratchDir;

// A terminal writing into a pipe, as when trainctl's output is piped; Drain returns what
// arrived so far.
class PipeTerminal {
 public:
  explicit PipeTerminal(bool is_tty) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_fd_ = fds[0];
    EXPECT_EQ(::fcntl(read_fd_, F_SETFL, O_NONBLOCK), 0);
    file_ = ::fdopen(fds[1], "w");
    terminal_ = std::make_unique<Terminal>(file_, is_tty);
  }
  ~PipeTerminal() {
    terminal_.reset();
    std::fclose(file_);
    ::close(read_fd_);
  }
  Terminal& operator*() { return *terminal_; }
  Terminal* operator->() { return terminal_.get(); }
  void Destroy() { terminal_.reset(); }
  std::FILE* file() { return file_; }

  std::string Drain() {
    std::string bytes;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(read_fd_, buffer, sizeof(buffer))) > 0) bytes.append(buffer, n);
    return bytes;
  }

 private:
  int read_fd_ = -1;
  std::FILE* file_ = nullptr;
  std::unique_ptr<Terminal> terminal_;
};

TEST(TerminalTest, WritesEachLineWithANewline) {
  PipeTerminal terminal(/*is_tty=*/false);
  terminal->WriteLine("epoch 1 loss 0.41");
  terminal->WriteLine("");
  terminal->WriteLine("epoch 2 loss 0.37");
  EXPECT_EQ(terminal.Drain(), "epoch 1 loss 0.41\n\nepoch 2 loss 0.37\n");
}

TEST(TerminalTest, DrawsNoStatusLineWhenNotATty) {
  PipeTerminal terminal(/*is_tty=*/false);
  EXPECT_FALSE(terminal->is_tty());
  terminal->SetStatus("4/4 workers running");
  terminal->WriteLine("hello");
  terminal->SetStatus("");
  EXPECT_EQ(terminal.Drain(), "hello\n");
}

TEST(TerminalTest, KeepsTheStatusLineBelowEveryLineOnATty) {
  PipeTerminal terminal(/*is_tty=*/true);
  terminal->SetStatus("4/4 workers running");
  EXPECT_EQ(terminal.Drain(), "\r\x1b[K4/4 workers running");

  // Each line erases the status, takes its place, and the status is drawn again below it.
  terminal->WriteLine("[rank 0] step 10");
  EXPECT_EQ(terminal.Drain(), "\r\x1b[K[rank 0] step 10\n4/4 workers running");
  terminal->WriteLine("[rank 1] step 10");
  EXPECT_EQ(terminal.Drain(), "\r\x1b[K[rank 1] step 10\n4/4 workers running");

  terminal->SetStatus("3/4 workers running");
  EXPECT_EQ(terminal.Drain(), "\r\x1b[K3/4 workers running");
}

TEST(TerminalTest, AnEmptyStatusErasesTheStatusLine) {
  PipeTerminal terminal(/*is_tty=*/true);
  terminal->SetStatus("round 2");
  terminal->SetStatus("");
  EXPECT_EQ(terminal.Drain(), "\r\x1b[Kround 2\r\x1b[K");
  // Without a status, lines are plain.
  terminal->WriteLine("done");
  EXPECT_EQ(terminal.Drain(), "done\n");
}

TEST(TerminalTest, ErasesTheStatusLineWhenDestroyed) {
  PipeTerminal terminal(/*is_tty=*/true);
  terminal->SetStatus("round 1");
  EXPECT_EQ(terminal.Drain(), "\r\x1b[Kround 1");
  terminal.Destroy();
  EXPECT_EQ(terminal.Drain(), "\r\x1b[K");
}

TEST(TerminalTest, LinesFromManyThreadsStayWhole) {
  ScratchDir dir;
  CapturedTerminal terminal(dir);
  constexpr int kThreads = 8;
  constexpr int kLines = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&terminal, t] {
      for (int i = 0; i < kLines; ++i) {
        terminal.get()->WriteLine("thread " + std::to_string(t) + " line " + std::to_string(i) +
                                  " " + std::string(100, 'a' + t));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::set<std::string> expected;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kLines; ++i) {
      expected.insert("thread " + std::to_string(t) + " line " + std::to_string(i) + " " +
                      std::string(100, 'a' + t));
    }
  }
  std::vector<std::string> lines = terminal.Lines();
  EXPECT_EQ(lines.size(), expected.size());
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()), expected);
}

TEST(TerminalTest, WritesAfterWhatOthersLeftInTheStdioBuffer) {
  PipeTerminal terminal(/*is_tty=*/false);
  std::fputs("printed with stdio\n", terminal.file());  // still in the FILE's buffer
  terminal->WriteLine("written by the terminal");
  EXPECT_EQ(terminal.Drain(), "printed with stdio\nwritten by the terminal\n");
}

}  // namespace
}  // namespace trainctl::agent
