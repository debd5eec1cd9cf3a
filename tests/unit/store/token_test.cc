#include "store/token.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "train/store.h"

namespace train {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/train-token-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/token";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& content) {
    std::ofstream(path_, std::ios::binary) << content;
    return path_;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(TokenFileTest, ReadsTheTokenWithoutTrailingWhitespace) {
  EXPECT_EQ(*ReadTokenFile(Write("s3cret-token\n")), "s3cret-token");
  EXPECT_EQ(*ReadTokenFile(Write("abc \t\r\n\n")), "abc");
}

TEST_F(TokenFileTest, EmptyFileIsRefusedNamingThePath) {
  Result<std::string> token = ReadTokenFile(Write(" \n"));
  EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(token.status().message(), HasSubstr(path_));
  EXPECT_THAT(token.status().message(), HasSubstr("empty"));
}

TEST_F(TokenFileTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = dir_ + "/absent";
  Result<std::string> token = ReadTokenFile(path);
  EXPECT_EQ(token.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(token.status().message(), HasSubstr(path));
  EXPECT_THAT(token.status().message(), HasSubstr("TRAIN_TOKEN_FILE"));
}

TEST_F(TokenFileTest, TokenWithInnerSpaceIsRefusedWithoutShowingIt) {
  Result<std::string> token = ReadTokenFile(Write("secret part\n"));
  EXPECT_EQ(token.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(token.status().message(), Not(HasSubstr("secret")));
}

TEST(NewTokenTest, Gives64HexCharactersFreshEachTime) {
  Result<std::string> first = NewToken();
  Result<std::string> second = NewToken();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_THAT(*first, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_NE(*first, *second);
}

TEST(ConstantTimeEqualsTest, MatchesOnlyTheSameBytes) {
  using internal::ConstantTimeEquals;
  EXPECT_TRUE(ConstantTimeEquals("token", "token"));
  EXPECT_FALSE(ConstantTimeEquals("tokem", "token"));
  EXPECT_FALSE(ConstantTimeEquals("toke", "token"));
  EXPECT_FALSE(ConstantTimeEquals("token!", "token"));
  EXPECT_FALSE(ConstantTimeEquals("", "token"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("token\0", 6), "token"));
}

}  // namespace
}  // namespace train
