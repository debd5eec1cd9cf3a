// trainctl ckpt ls|verify|inspect as a user runs them, on checkpoints written through the API.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../../scratch_dir.h"
#include "train/checkpoint.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::train::testing::ScratchDir;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Under `timeout`: a command that hangs (on a FIFO, say) fails with exit code 124.
CommandResult Ckpt(const std::string& args) {
  CommandResult result;
  const std::string command =
      "timeout 60 " + std::string(TRAINCTL_BINARY) + " ckpt " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Two checkpoints (steps 10 and 20) of a small state.
class CkptCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (scratch_.path() / "ckpt").string();
    train::CheckpointOptions options;
    options.async = false;
    options.job_id = "cli-test";
    auto checkpointer = train::Checkpointer::Open(dir_, nullptr, options);
    ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
    std::vector<float> weights(4096, 0.5f);
    std::vector<std::int32_t> counts(10, 7);
    train::CheckpointState state;
    train::CheckpointTensor weight;
    weight.name = "layer1/weight";
    weight.data = {weights.data(), train::DType::kFloat32, weights.size()};
    weight.shape = {64, 64};
    train::CheckpointTensor count;
    count.name = "counts";
    count.data = {counts.data(), train::DType::kInt32, counts.size()};
    state.tensors = {weight, count};
    state.sampler = train::SamplerState{2, 128};
    state.rng = {{"dropout", "12345"}};
    state.metadata = {{"model", "tiny"}};
    train::OptimizerState optimizer;
    optimizer.step = 10;
    optimizer.names = {"group0/param0/exp_avg"};
    optimizer.buffers = {std::vector<std::byte>(256, std::byte{1})};
    state.optimizer = optimizer;
    ASSERT_TRUE((*checkpointer)->Save(10, state).ok());
    state.optimizer->step = 20;
    ASSERT_TRUE((*checkpointer)->Save(20, state).ok());
  }

  std::string Step(int step) const { return dir_ + "/step-" + std::to_string(step); }

  std::string Manifest(int step) const {
    std::ifstream in(Step(step) + "/manifest.json");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  void WriteManifest(int step, const std::string& text) const {
    std::ofstream(Step(step) + "/manifest.json", std::ios::trunc) << text;
  }

  // The fixture's state, zeroed, loaded as a restarted job does.
  train::Result<train::LoadedCheckpoint> LoadLatest() const {
    train::CheckpointOptions options;
    options.async = false;
    auto checkpointer = train::Checkpointer::Open(dir_, nullptr, options);
    if (!checkpointer.ok()) return checkpointer.status();
    std::vector<float> weights(4096);
    std::vector<std::int32_t> counts(10);
    train::CheckpointState into;
    into.tensors = {
        {"layer1/weight", {weights.data(), train::DType::kFloat32, weights.size()}, {}, true, 0},
        {"counts", {counts.data(), train::DType::kInt32, counts.size()}, {}, true, 0}};
    return (*checkpointer)->LoadLatest(into);
  }

  ScratchDir scratch_;
  std::string dir_;
};

TEST_F(CkptCliTest, LsListsNewestFirstAndMarksTheLatest) {
  const CommandResult result = Ckpt("ls " + dir_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("STEP"));
  const std::size_t at20 = result.output.find("\n20 ");
  const std::size_t at10 = result.output.find("\n10 ");
  ASSERT_NE(at20, std::string::npos) << result.output;
  ASSERT_NE(at10, std::string::npos) << result.output;
  EXPECT_LT(at20, at10);
  const std::string line20 =
      result.output.substr(at20 + 1, result.output.find('\n', at20 + 1) - at20 - 1);
  EXPECT_THAT(line20, HasSubstr("*"));
}

TEST_F(CkptCliTest, LsJsonIsForScripts) {
  const CommandResult result = Ckpt("ls --json " + dir_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("\"step\": 20"));
  EXPECT_THAT(result.output, HasSubstr("\"latest\": true"));
}

TEST_F(CkptCliTest, LsOfAMissingDirectoryIsAUsageError) {
  const CommandResult result = Ckpt("ls " + dir_ + "/nope");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("no checkpoint directory"));
}

TEST_F(CkptCliTest, VerifyPassesWholeCheckpoints) {
  CommandResult result = Ckpt("verify " + dir_);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("step-20"));
  EXPECT_THAT(result.output, HasSubstr("2 of 2 checkpoints verify"));
  result = Ckpt("verify " + Step(10));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("OK"));
}

TEST_F(CkptCliTest, VerifyNamesAFileWithAFlippedByteAndExitsOne) {
  fs::path victim;
  for (const auto& entry : fs::directory_iterator(Step(20))) {
    if (entry.path().extension() == ".h5") victim = entry.path();
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream file(victim, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(0, std::ios::end);
    const std::streamoff size = file.tellg();
    file.seekg(size / 2);
    char byte = 0;
    file.read(&byte, 1);
    file.seekp(size / 2);
    byte = static_cast<char>(byte ^ 0x5a);
    file.write(&byte, 1);
  }
  CommandResult result = Ckpt("verify " + dir_);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("FAILED"));
  EXPECT_THAT(result.output, HasSubstr(victim.filename().string()));
  EXPECT_THAT(result.output, HasSubstr("1 of 2 checkpoints verify"));
  result = Ckpt("verify " + Step(10));
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(CkptCliTest, VerifyOfAMissingPathIsAUsageError) {
  EXPECT_EQ(Ckpt("verify " + dir_ + "/step-99").exit_code, 2);
  EXPECT_EQ(Ckpt("verify").exit_code, 2);
}

TEST_F(CkptCliTest, InspectShowsTensorsSamplerOptimizerRngAndMetadata) {
  const CommandResult result = Ckpt("inspect " + Step(20));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("layer1/weight"));
  EXPECT_THAT(result.output, HasSubstr("float32"));
  EXPECT_THAT(result.output, HasSubstr("[64, 64]"));
  EXPECT_THAT(result.output, HasSubstr("int32"));
  EXPECT_THAT(result.output, HasSubstr("replicated"));
  EXPECT_THAT(result.output, HasSubstr("epoch=2 cursor=128"));
  EXPECT_THAT(result.output, HasSubstr("step 20"));
  EXPECT_THAT(result.output, HasSubstr("dropout"));
  EXPECT_THAT(result.output, HasSubstr("model = tiny"));
  EXPECT_THAT(result.output, HasSubstr("cli-test"));
}

TEST_F(CkptCliTest, InspectJsonIsForScripts) {
  const CommandResult result = Ckpt("inspect --json " + Step(10));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("\"name\": \"layer1/weight\""));
  EXPECT_THAT(result.output, HasSubstr("\"optimizer_step\": 10"));
  EXPECT_THAT(result.output, HasSubstr("\"cursor\": 128"));
}

TEST_F(CkptCliTest, InspectOfTheWholeDirectoryAsksForOneStep) {
  const CommandResult result = Ckpt("inspect " + dir_);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("step-N"));
  EXPECT_THAT(result.output, Not(HasSubstr("tensors")));
}

std::string Replaced(std::string text, const std::string& from, const std::string& to,
                     bool last_only = false) {
  for (std::size_t at = last_only ? text.rfind(from) : text.find(from); at != std::string::npos;
       at = last_only ? std::string::npos : text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST_F(CkptCliTest, VerifyNamesTheFieldAndValueOfAHostileManifest) {
  const std::string original = Manifest(20);
  struct Case {
    std::string edited, field, value;
  };
  const std::vector<Case> cases = {
      {Replaced(original, "\"count\": 256", "\"count\": 1125899906842624"),
       "optimizer.buffers[0].count", "1125899906842624"},
      {Replaced(original, "\"rank-0.h5\"", "\"../../outside.h5\""), "files[0].name",
       "../../outside.h5"},
      {Replaced(original, "\"step\": 20", "\"step\": 1000000000000000000", true), "'step'",
       "1000000000000000000"},
      {Replaced(original, "\"world_size\": 1", "\"world_size\": \"one\""), "'world_size'", "one"},
      {"[\"not\", \"a\", \"manifest\"]", "must be an object", "array"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    ASSERT_NE(c.edited, original);
    WriteManifest(20, c.edited);
    const CommandResult result = Ckpt("verify " + dir_);
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_THAT(result.output, HasSubstr("FAILED"));
    EXPECT_THAT(result.output, HasSubstr(c.field));
    EXPECT_THAT(result.output, HasSubstr(c.value));
    EXPECT_THAT(result.output, HasSubstr("1 of 2 checkpoints verify"));
  }
  WriteManifest(20, original);
  EXPECT_EQ(Ckpt("verify " + dir_).exit_code, 0);
}

TEST_F(CkptCliTest, VerifyOfAFifoInPlaceOfAFileFailsWithoutHanging) {
  const std::string file = Step(20) + "/rank-0.h5";
  ASSERT_TRUE(fs::remove(file));
  ASSERT_EQ(mkfifo(file.c_str(), 0644), 0);
  const CommandResult result = Ckpt("verify " + Step(20));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, HasSubstr("FIFO"));
  EXPECT_THAT(result.output, HasSubstr("rank-0.h5"));
}

TEST_F(CkptCliTest, LsShowsADamagedStepAndNeverMarksItLatest) {
  WriteManifest(20, Replaced(Manifest(20), "\"count\": 256", "\"count\": 1125899906842624"));
  CommandResult result = Ckpt("ls " + dir_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::size_t at20 = result.output.find("\n20 ");
  const std::size_t at10 = result.output.find("\n10 ");
  ASSERT_NE(at20, std::string::npos) << result.output;
  ASSERT_NE(at10, std::string::npos) << result.output;
  const std::string line20 = result.output.substr(at20 + 1, at10 - at20 - 1);
  EXPECT_THAT(line20, HasSubstr("DAMAGED"));
  EXPECT_THAT(line20, Not(HasSubstr("*")));
  EXPECT_THAT(result.output.substr(at10), HasSubstr("*"));

  // A restart quarantines it; ls and verify show it as such, and the job saves step 20 again.
  auto loaded = LoadLatest();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 10);
  result = Ckpt("ls " + dir_);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("quarantined"));
  EXPECT_THAT(result.output, HasSubstr("step-20.corrupt-"));
  EXPECT_THAT(result.output, HasSubstr("optimizer.buffers[0].count"));
  EXPECT_EQ(result.output.find("\n20 "), std::string::npos) << result.output;
  result = Ckpt("ls --json " + dir_);
  EXPECT_THAT(result.output, HasSubstr("\"status\": \"quarantined\""));
  result = Ckpt("verify " + dir_);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("QUARANTINED"));
}

}  // namespace
