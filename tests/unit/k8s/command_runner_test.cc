// kubectl is run as a real child process: input on stdin, both outputs captured, exit codes
// (128+N for signal N), and a clear NOT_FOUND when the program is missing.
#include "launcher/k8s/command_runner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace trainctl::k8s {
namespace {

TEST(CommandRunner, FeedsStdinAndCapturesBothOutputs) {
  const std::string input(1 << 20, 'x');  // more than a pipe holds
  auto run = RunCapture({"sh", "-c", "wc -c; echo oops >&2; exit 3"}, input);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->exit_code, 3);
  EXPECT_EQ(std::stoul(run->out), input.size());
  EXPECT_EQ(run->err, "oops\n");
}

TEST(CommandRunner, AChildThatIgnoresItsInputOrIsKilledIsReported) {
  auto ignored = RunCapture({"true"}, std::string(1 << 20, 'y'));
  ASSERT_TRUE(ignored.ok());
  EXPECT_EQ(ignored->exit_code, 0);
  auto killed = RunCapture({"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exit_code, 128 + 9);
}

TEST(CommandRunner, MissingProgramIsNotFound) {
  auto run = RunCapture({"trainctl-no-such-program"});
  EXPECT_EQ(run.status().code(), train::StatusCode::kNotFound);
  EXPECT_EQ(RunLines({"trainctl-no-such-program"}, [](std::string_view) {}).status().code(),
            train::StatusCode::kNotFound);
}

TEST(CommandRunner, StreamsLinesIncludingALastOneWithoutNewline) {
  std::vector<std::string> lines;
  auto code = RunLines({"printf", "a\\nb\\nlast"},
                       [&](std::string_view line) { lines.emplace_back(line); });
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b", "last"}));
}

}  // namespace
}  // namespace trainctl::k8s
