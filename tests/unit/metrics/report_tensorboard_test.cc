// TensorBoard event files from a run: TFRecord framing with masked CRC32C around Event protos,
// read back here by a reader of our own that checks every CRC, and by TensorBoard's own reader
// when /usr/bin/python3 has it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "launcher/report/tensorboard_event.pb.h"
#include "run_report.h"
#include "tensorboard.h"

namespace trainctl::report {
namespace {

namespace fs = std::filesystem;

// Two rounds: steps 1-2, a restart, steps 1-3 again (the final timeline is round 1's).
constexpr char kRun[] =
    R"({"type":"agent_start","t":1700000000.5,"node":-1,"job":"j","unit":"core","units_per_node":1,"max_nodes":1}
{"type":"step","t":1700000001,"rank":0,"restart":0,"step":1,"loss":2.0,"samples_per_s":10,"values":{"test_accuracy":0.5}}
{"type":"step","t":1700000002,"rank":0,"restart":0,"step":2,"loss":1.8,"samples_per_s":10}
{"type":"round_end","t":1700000003,"round":0,"node":0,"outcome":"restart","reason":"killed"}
{"type":"step","t":1700000004,"rank":0,"restart":1,"step":1,"loss":1.5,"samples_per_s":12}
{"type":"step","t":1700000005,"rank":0,"restart":1,"step":2,"loss":1.0,"samples_per_s":12}
{"type":"step","t":1700000006,"rank":0,"restart":1,"step":3,"loss":0.5,"samples_per_s":12}
)";

std::uint32_t LittleEndian(const std::string& bytes, std::size_t at, int width) {
  std::uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  }
  return static_cast<std::uint32_t>(value);
}

// The records of a TFRecord file, or what is wrong with it (a torn record, a bad CRC).
struct Records {
  std::vector<std::string> data;
  std::string error;
};
Records ReadRecords(const std::string& file) {
  Records out;
  std::size_t at = 0;
  while (at < file.size()) {
    if (file.size() - at < 12) return {out.data, "a torn header at byte " + std::to_string(at)};
    const std::uint64_t length = LittleEndian(file, at, 4) |
                                 (static_cast<std::uint64_t>(LittleEndian(file, at + 4, 4)) << 32);
    if (LittleEndian(file, at + 8, 4) != MaskedCrc32c(file.substr(at, 8))) {
      return {out.data, "bad length CRC at byte " + std::to_string(at)};
    }
    if (file.size() - at - 12 < length + 4) {
      return {out.data, "a torn record at byte " + std::to_string(at)};
    }
    const std::string data = file.substr(at + 12, length);
    if (LittleEndian(file, at + 12 + length, 4) != MaskedCrc32c(data)) {
      return {out.data, "bad data CRC at byte " + std::to_string(at)};
    }
    out.data.push_back(data);
    at += 12 + length + 4;
  }
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ReportTensorBoardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("report_tb_test." + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(ReportTensorBoardCrcTest, MatchesTheKnownValues) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);  // the CRC32C check value
  EXPECT_EQ(Crc32c(""), 0u);
  const std::string record = TfRecord("abc");
  EXPECT_EQ(record.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(ReadRecords(record).data, std::vector<std::string>{"abc"});
  EXPECT_EQ(ReadRecords(record).error, "");
}

TEST_F(ReportTensorBoardTest, WritesScalarsTensorBoardReads) {
  const RunReport run = BuildRunReport(kRun);
  ASSERT_TRUE(WriteTensorBoard(run, dir_.string()).ok());
  const fs::path file = dir_ / EventFileName(run.start_time);
  ASSERT_TRUE(fs::exists(file)) << file;
  EXPECT_NE(file.filename().string().find("tfevents"), std::string::npos);
  const Records read = ReadRecords(ReadFile(file));
  ASSERT_EQ(read.error, "");
  const std::vector<std::string>& records = read.data;
  ASSERT_FALSE(records.empty());
  trainctl::tensorboard::Event first;
  ASSERT_TRUE(first.ParseFromString(records[0]));
  EXPECT_EQ(first.file_version(), "brain.Event:2");
  EXPECT_DOUBLE_EQ(first.wall_time(), 1700000000.5);
  std::map<std::string, std::map<std::int64_t, float>> scalars;
  for (std::size_t i = 1; i < records.size(); ++i) {
    trainctl::tensorboard::Event event;
    ASSERT_TRUE(event.ParseFromString(records[i]));
    ASSERT_EQ(event.summary().value_size(), 1);
    scalars[event.summary().value(0).tag()][event.step()] = event.summary().value(0).simple_value();
    EXPECT_GT(event.wall_time(), 1700000000);
  }
  // The final timeline: round 1 redid steps 1 and 2, so theirs replace round 0's.
  EXPECT_EQ(scalars["loss"], (std::map<std::int64_t, float>{{1, 1.5f}, {2, 1.0f}, {3, 0.5f}}));
  EXPECT_EQ(scalars["samples_per_s"].size(), 3u);
  EXPECT_EQ(scalars["test_accuracy"], (std::map<std::int64_t, float>{{1, 0.5f}}));

  // A flipped byte is caught by the reader (so the checks above mean something).
  std::string corrupt = ReadFile(file);
  corrupt[corrupt.size() - 6] ^= 0x01;
  EXPECT_NE(ReadRecords(corrupt).error, "");
}

TEST_F(ReportTensorBoardTest, TensorBoardsOwnReaderAgreesWhenInstalled) {
  const char* probe =
      "/usr/bin/python3 -c 'import tensorboard.backend.event_processing.event_file_loader' "
      ">/dev/null 2>&1";
  if (::access("/usr/bin/python3", X_OK) != 0 || std::system(probe) != 0) {
    GTEST_SKIP() << "tensorboard is not importable by /usr/bin/python3";
  }
  const RunReport run = BuildRunReport(kRun);
  ASSERT_TRUE(WriteTensorBoard(run, dir_.string()).ok());
  const std::string script =
      "import sys\n"
      "from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader\n"
      "from tensorboard.compat.proto import event_pb2\n"
      "n = 0\n"
      "for raw in RawEventFileLoader(sys.argv[1]).Load():\n"
      "    e = event_pb2.Event.FromString(raw)\n"
      "    for v in e.summary.value:\n"
      "        if v.tag == 'loss': print(e.step, v.simple_value); n += 1\n"
      "sys.exit(0 if n == 3 else 1)\n";
  const fs::path script_file = dir_ / "read.py";
  std::ofstream(script_file) << script;
  const std::string command = "/usr/bin/python3 " + script_file.string() + " " +
                              (dir_ / EventFileName(run.start_time)).string();
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace trainctl::report
