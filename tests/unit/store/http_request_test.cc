// The store server's request-head parser, over buffers: what it accepts, what it waits for,
// and what it refuses before the server holds more than the head's cap.
#include "store/http_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace train::internal {
namespace {

using ::testing::HasSubstr;
using State = HttpHeadParse::State;

constexpr std::size_t kCap = 16 << 10;

TEST(HttpRequestHead, ParsesAPostAndSaysWhereTheBodyStarts) {
  const std::string request =
      "POST /v1/set HTTP/1.1\r\nHost: 127.0.0.1:1\r\nauthorization:  Bearer t0k3n \r\n"
      "Content-Length: 5\r\n\r\nhello";
  HttpHeadParse parsed = ParseRequestHead(request, kCap);
  ASSERT_EQ(parsed.state, State::kComplete) << parsed.error.message;
  EXPECT_EQ(parsed.head.method, "POST");
  EXPECT_EQ(parsed.head.target, "/v1/set");
  EXPECT_EQ(parsed.head.minor_version, 1);
  EXPECT_EQ(parsed.head.Header("Authorization"), std::optional<std::string_view>("Bearer t0k3n"));
  EXPECT_EQ(parsed.head.content_length, std::optional<std::uint64_t>(5));
  EXPECT_FALSE(parsed.head.chunked);
  EXPECT_TRUE(parsed.head.keep_alive);
  EXPECT_EQ(request.substr(parsed.head_bytes), "hello");
}

TEST(HttpRequestHead, WaitsForTheBlankLineThatEndsTheHead) {
  const std::string request = "POST /v1/get HTTP/1.1\r\nContent-Length: 2\r\n\r\n";
  for (std::size_t cut = 0; cut < request.size(); ++cut) {
    EXPECT_EQ(ParseRequestHead(request.substr(0, cut), kCap).state, State::kIncomplete) << cut;
  }
  EXPECT_EQ(ParseRequestHead(request, kCap).state, State::kComplete);
}

TEST(HttpRequestHead, AHeadThatNeverEndsIsRefusedAtTheCap) {
  const std::string endless = "POST /v1/set HTTP/1.1\r\nX-Filler: " + std::string(kCap, 'a');
  EXPECT_EQ(ParseRequestHead(endless.substr(0, kCap - 1), kCap).state, State::kIncomplete);
  HttpHeadParse parsed = ParseRequestHead(endless, kCap);
  ASSERT_EQ(parsed.state, State::kError);
  EXPECT_EQ(parsed.error.status, 431);
  EXPECT_THAT(parsed.error.message, HasSubstr("16384 bytes"));
  // Blank lines alone, forever, are no way around it.
  EXPECT_EQ(ParseRequestHead(std::string(kCap, '\n'), kCap).error.status, 431);
  std::string crlfs;
  while (crlfs.size() < kCap) crlfs += "\r\n";
  EXPECT_EQ(ParseRequestHead(crlfs, kCap).error.status, 431);
}

TEST(HttpRequestHead, TooManyHeadersAreRefused) {
  std::string request = "POST /v1/set HTTP/1.1\r\n";
  for (std::size_t i = 0; i <= kMaxHeaderCount; ++i) request += "X: 1\r\n";
  request += "\r\n";
  EXPECT_EQ(ParseRequestHead(request, kCap).error.status, 431);
}

TEST(HttpRequestHead, MalformedHeadsAreRefusedWith400Or505) {
  const auto status = [](const std::string& head) {
    HttpHeadParse parsed = ParseRequestHead(head, kCap);
    return parsed.state == State::kError ? parsed.error.status : 0;
  };
  EXPECT_EQ(status("POST /v1/set\r\n\r\n"), 400);
  EXPECT_EQ(status("POST  /v1/set HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status("PO(ST /v1/set HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status("POST /v1/set HTTP/2.0\r\n\r\n"), 505);
  EXPECT_EQ(status("POST /v1/set SPDY/3\r\n\r\n"), 400);
  EXPECT_EQ(status("POST /v1/set HTTP/1.1\r\nNo colon\r\n\r\n"), 400);
  EXPECT_EQ(status("POST /v1/set HTTP/1.1\r\nX: a\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(status("POST /v1/set HTTP/1.1\r\nX: a\nY: b\r\n\r\n"), 400);
  static constexpr char kNulInAHeader[] = "POST /v1/set HTTP/1.1\r\nX: a\0b\r\n\r\n";
  EXPECT_EQ(status(std::string(kNulInAHeader, sizeof(kNulInAHeader) - 1)), 400);
  EXPECT_EQ(status("POST /v1/set HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(status("POST /v1/set HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), 400);
  EXPECT_EQ(status("POST /v1/set HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
  // Two framings: the way requests are smuggled past proxies.
  EXPECT_EQ(status("POST /v1/set HTTP/1.1\r\nContent-Length: 3\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"),
            400);
}

TEST(HttpRequestHead, ChunkedAndConnectionHeadersAreRead) {
  HttpHeadParse chunked =
      ParseRequestHead("POST /v1/set HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", kCap);
  ASSERT_EQ(chunked.state, State::kComplete);
  EXPECT_TRUE(chunked.head.chunked);
  EXPECT_FALSE(chunked.head.content_length.has_value());

  HttpHeadParse closing =
      ParseRequestHead("POST /v1/set HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", kCap);
  EXPECT_FALSE(closing.head.keep_alive);
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.0\r\n\r\n", kCap).head.keep_alive);
  EXPECT_TRUE(
      ParseRequestHead("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", kCap).head.keep_alive);
}

TEST(HttpRequestHead, PipelinedRequestsAreParsedOneAtATime) {
  const std::string first = "POST /v1/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
  const std::string second = "POST /v1/b HTTP/1.1\r\n\r\n";
  HttpHeadParse parsed = ParseRequestHead(first + second, kCap);
  ASSERT_EQ(parsed.state, State::kComplete);
  EXPECT_EQ(parsed.head.target, "/v1/a");
  EXPECT_EQ(parsed.head_bytes, first.size());
  EXPECT_EQ(ParseRequestHead(std::string("\r\n") + second, kCap).head.target, "/v1/b");
}

TEST(HttpResponseHead, CarriesLengthConnectionAndTheBearerChallenge) {
  EXPECT_EQ(FormatResponseHead(200, 2, true),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            "Connection: keep-alive\r\n\r\n");
  const std::string refused = FormatResponseHead(401, 0, false);
  EXPECT_THAT(refused, HasSubstr("HTTP/1.1 401 Unauthorized\r\n"));
  EXPECT_THAT(refused, HasSubstr("WWW-Authenticate: Bearer\r\n"));
  EXPECT_THAT(refused, HasSubstr("Connection: close\r\n"));
}

}  // namespace
}  // namespace train::internal
