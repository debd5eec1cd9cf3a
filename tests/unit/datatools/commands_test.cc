// The data commands' exit codes and what they print, called as main.cc calls them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data_commands.h"
#include "datatools_test_util.h"

namespace trainctl::cli {
namespace {

using data::testing::IdxBytes;
using data::testing::ScratchDir;
using data::testing::SomeBytes;
using data::testing::WriteBytes;
using ::testing::HasSubstr;

class DataCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    flags_.images = dir_ / "images.gz";
    flags_.labels = dir_ / "labels.gz";
    flags_.output = dir_ / "out.h5";
    WriteBytes(flags_.images, IdxBytes(0x08, {20, 2, 2}, SomeBytes(80, 1)), true);
    WriteBytes(flags_.labels, IdxBytes(0x08, {20}, SomeBytes(20, 2)), true);
  }
  ScratchDir dir_;
  ImportIdxFlags flags_;
};

TEST_F(DataCommandsTest, ImportThenInspect) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunDataImportIdx(flags_), 0);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_THAT(out, HasSubstr("wrote " + flags_.output));
  EXPECT_THAT(out, HasSubstr("images uint8 [20, 2, 2], labels int64 [20]; 20 rows in"));

  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunDataInspect({flags_.output, false}), 0);
  EXPECT_THAT(::testing::internal::GetCapturedStdout(), HasSubstr("N = 20 rows in each"));
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunDataInspect({flags_.output, true}), 0);
  EXPECT_THAT(::testing::internal::GetCapturedStdout(), HasSubstr("\"rows\": 20"));
}

TEST_F(DataCommandsTest, BadInputIsAFailure) {
  flags_.labels = dir_ / "missing.gz";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDataImportIdx(flags_), 1);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("trainctl data import idx: " + flags_.labels + ": no such file"));
}

TEST_F(DataCommandsTest, AnExistingOutputIsAFailureThatNamesForce) {
  data::testing::WriteText(flags_.output, "x");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDataImportIdx(flags_), 1);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("pass --force"));
  flags_.force = true;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunDataImportIdx(flags_), 0);
  ::testing::internal::GetCapturedStdout();
}

TEST_F(DataCommandsTest, BadFlagValuesAreUsageErrors) {
  flags_.compression = 11;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDataImportIdx(flags_), 2);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("--compression 11"));
  ImportCsvFlags csv;
  csv.input = dir_ / "t.csv";
  csv.output = dir_ / "t.h5";
  csv.skip_rows = -5;
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDataImportCsv(csv), 2);
  ::testing::internal::GetCapturedStderr();
}

TEST_F(DataCommandsTest, InspectOfAMissingFileIsAFailure) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDataInspect({dir_ / "none.h5", false}), 1);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("trainctl data inspect: "));
}

}  // namespace
}  // namespace trainctl::cli
