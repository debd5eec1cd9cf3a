// The text forms of the TCP transport: addresses and control notices.
#include <gtest/gtest.h>

#include "cpu/tcp_control.h"
#include "cpu/tcp_socket.h"

namespace train::internal {
namespace {

TEST(TcpAddressTest, ParsesHostAndPortAndBracketedIpv6) {
  auto plain = ParseTcpAddress("10.0.0.2:4711");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->host, "10.0.0.2");
  EXPECT_EQ(plain->port, 4711);
  EXPECT_EQ(plain->ToString(), "10.0.0.2:4711");
  auto v6 = ParseTcpAddress("[fe80::1]:80");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "fe80::1");
  EXPECT_EQ(v6->ToString(), "[fe80::1]:80");
}

TEST(TcpAddressTest, RefusesWhatIsNotHostColonPort) {
  for (const char* text : {"", "host", "host:", ":80", "host:0", "host:65536", "host:8o"}) {
    EXPECT_EQ(ParseTcpAddress(text).status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(ControlMessageTest, EveryKindSurvivesItsLine) {
  using Kind = ControlMessage::Kind;
  std::vector<ControlMessage> messages(6);
  messages[0].kind = Kind::kQuery;
  messages[0].op = 12;
  messages[1].kind = Kind::kHere;
  messages[1].op = 1ull << 40;
  messages[2].kind = Kind::kStopTimeout;
  messages[2].ranks = {3, 5, 17};
  messages[3].kind = Kind::kStopLost;
  messages[3].ranks = {2};
  messages[3].detail = "closed its connection (10.0.0.2:4711): it exited or was killed";
  messages[4].kind = Kind::kStopAborted;
  messages[4].ranks = {4};
  messages[5].kind = Kind::kBye;
  for (const ControlMessage& message : messages) {
    const std::string line = EncodeControl(message);
    ASSERT_EQ(line.back(), '\n');
    auto decoded = DecodeControl(line.substr(0, line.size() - 1));
    ASSERT_TRUE(decoded.has_value()) << line;
    EXPECT_EQ(decoded->kind, message.kind) << line;
    EXPECT_EQ(decoded->op, message.op) << line;
    EXPECT_EQ(decoded->ranks, message.ranks) << line;
    EXPECT_EQ(decoded->detail, message.detail) << line;
  }
}

TEST(ControlMessageTest, ADetailStaysOnOneLine) {
  ControlMessage message;
  message.kind = ControlMessage::Kind::kStopLost;
  message.ranks = {1};
  message.detail = "first\nsecond";
  const std::string line = EncodeControl(message);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(ControlMessageTest, NonsenseIsIgnored) {
  for (const char* line :
       {"", "hello", "query", "query x", "stop", "stop lost", "stop timeout 1,x", "stop maybe 3"}) {
    EXPECT_FALSE(DecodeControl(line).has_value()) << line;
  }
}

}  // namespace
}  // namespace train::internal
