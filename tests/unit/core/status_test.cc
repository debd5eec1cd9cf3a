#include "train/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace train {
namespace {

using ::testing::HasSubstr;

TEST(StatusTest, DefaultIsOkAndPrintsOk) {
  Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kOk);
  EXPECT_EQ(status.ToString(), "OK");
  EXPECT_EQ(status, Status::Ok());
}

TEST(StatusTest, ErrorPrintsCodeNameAndMessage) {
  Status status = InvalidArgumentError("spec.nodes.min: -1 is negative");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.ToString(), "INVALID_ARGUMENT: spec.nodes.min: -1 is negative");
  std::ostringstream os;
  os << status;
  EXPECT_EQ(os.str(), status.ToString());
}

TEST(StatusTest, OkCodeDropsAnyMessage) {
  Status status(StatusCode::kOk, "ignored");
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.message(), "");
  EXPECT_EQ(status, Status::Ok());
}

TEST(StatusTest, EveryConstructorGivesItsCode) {
  const std::vector<std::pair<Status, std::string>> cases = {
      {CancelledError("m"), "CANCELLED"},
      {UnknownError("m"), "UNKNOWN"},
      {InvalidArgumentError("m"), "INVALID_ARGUMENT"},
      {DeadlineExceededError("m"), "DEADLINE_EXCEEDED"},
      {NotFoundError("m"), "NOT_FOUND"},
      {AlreadyExistsError("m"), "ALREADY_EXISTS"},
      {PermissionDeniedError("m"), "PERMISSION_DENIED"},
      {ResourceExhaustedError("m"), "RESOURCE_EXHAUSTED"},
      {FailedPreconditionError("m"), "FAILED_PRECONDITION"},
      {AbortedError("m"), "ABORTED"},
      {OutOfRangeError("m"), "OUT_OF_RANGE"},
      {InternalError("m"), "INTERNAL"},
      {UnavailableError("m"), "UNAVAILABLE"},
      {DataLossError("m"), "DATA_LOSS"},
      {UnauthenticatedError("m"), "UNAUTHENTICATED"},
  };
  for (const auto& [status, name] : cases) {
    EXPECT_FALSE(status.ok()) << name;
    EXPECT_EQ(StatusCodeName(status.code()), name);
    EXPECT_EQ(status.ToString(), name + ": m");
  }
}

TEST(StatusTest, EqualityComparesCodeAndMessage) {
  EXPECT_EQ(NotFoundError("a"), NotFoundError("a"));
  EXPECT_NE(NotFoundError("a"), NotFoundError("b"));
  EXPECT_NE(NotFoundError("a"), InternalError("a"));
  EXPECT_NE(NotFoundError("a"), Status::Ok());
}

TEST(StatusTest, WithContextPrefixesTheMessageAndKeepsTheCode) {
  Status status = NotFoundError("no such key \"epoch\"").WithContext("loading checkpoint step-40");
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "loading checkpoint step-40: no such key \"epoch\"");
}

TEST(StatusTest, WithContextOnOkStaysOk) {
  Status status = Status::Ok().WithContext("loading");
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.ToString(), "OK");
}

TEST(ResultTest, HoldsAValue) {
  Result<int> result = 42;
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value(), 42);
  EXPECT_EQ(*result, 42);
  EXPECT_TRUE(result.status().ok());
}

TEST(ResultTest, HoldsAnError) {
  Result<int> result = NotFoundError("missing");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status(), NotFoundError("missing"));
  EXPECT_EQ(result.value_or(7), 7);
}

TEST(ResultTest, OkStatusBecomesAnInternalError) {
  // A Result needs a value or a reason; an OK status without a value is a bug in the caller.
  Result<int> result = Status::Ok();
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInternal);
}

TEST(ResultTest, ConvertsFromCompatibleTypes) {
  Result<std::string> result = "node0";
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, "node0");
  EXPECT_EQ(result->size(), 5u);
}

TEST(ResultTest, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> result = std::make_unique<int>(5);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(**result, 5);
  std::unique_ptr<int> owned = std::move(result).value();
  ASSERT_NE(owned, nullptr);
  EXPECT_EQ(*owned, 5);
}

Status FailIf(bool fail, int* reached) {
  if (fail) return AbortedError("stopped at step 3");
  ++*reached;
  return Status::Ok();
}

Status TwoSteps(bool fail_first, int* reached) {
  TRAIN_RETURN_IF_ERROR(FailIf(fail_first, reached));
  TRAIN_RETURN_IF_ERROR(FailIf(false, reached));
  return Status::Ok();
}

TEST(MacroTest, ReturnIfErrorStopsAtTheFirstError) {
  int reached = 0;
  EXPECT_EQ(TwoSteps(true, &reached), AbortedError("stopped at step 3"));
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(TwoSteps(false, &reached).ok());
  EXPECT_EQ(reached, 2);
}

Result<std::unique_ptr<int>> MakeBox(int value) {
  if (value < 0) return InvalidArgumentError("value " + std::to_string(value) + " is negative");
  return std::make_unique<int>(value);
}

Result<int> DoubleBox(int value) {
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<int> box, MakeBox(value));
  TRAIN_ASSIGN_OR_RETURN(auto second, MakeBox(*box + 1));
  return *box + *second - 1;
}

TEST(MacroTest, AssignOrReturnMovesTheValueOut) {
  Result<int> result = DoubleBox(4);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 8);
}

TEST(MacroTest, AssignOrReturnPropagatesTheError) {
  Result<int> result = DoubleBox(-2);
  EXPECT_EQ(result.status(), InvalidArgumentError("value -2 is negative"));
}

TEST(StatusDeathTest, CheckEqPrintsBothValues) {
  const int expected_ranks = 4;
  const int arrived = 3;
  EXPECT_DEATH(TRAIN_CHECK_EQ(expected_ranks, arrived),
               "check failed at .*status_test.cc:[0-9]+: expected_ranks == arrived \\(4 vs 3\\)");
}

TEST(StatusDeathTest, CheckLtPrintsBothValues) {
  const std::string name = "b";
  EXPECT_DEATH(TRAIN_CHECK_LT(name, std::string("a")),
               "name < std::string\\(\"a\"\\) \\(b vs a\\)");
}

TEST(StatusDeathTest, CheckOkPrintsTheStatus) {
  EXPECT_DEATH(TRAIN_CHECK_OK(DataLossError("checksum mismatch in shard 2")),
               "DATA_LOSS: checksum mismatch in shard 2");
}

TEST(StatusDeathTest, ValueOnAnErrorAbortsWithTheStatus) {
  Result<int> result = NotFoundError("no checkpoint in /ckpt");
  EXPECT_DEATH((void)result.value(),
               "value\\(\\) called on a Result without a value: NOT_FOUND: no checkpoint in /ckpt");
}

TEST(StatusDeathTest, PassingChecksDoNotAbort) {
  TRAIN_CHECK_EQ(2, 2);
  TRAIN_CHECK_GE(3, 2);
  TRAIN_CHECK(true);
  TRAIN_CHECK_OK(Status::Ok());
  SUCCEED();
}

}  // namespace
}  // namespace train
