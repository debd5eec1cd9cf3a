#include "store/store_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "store/base64.h"
#include "store/store_service.h"
#include "store/store_state.h"

namespace train::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Base64Test, MatchesTheStandardVectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*Base64Decode("Zm9vYmE="), "fooba");
}

TEST(Base64Test, RoundTripsEveryByteAtEveryLength) {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(255 - b);
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    const std::string prefix = bytes.substr(0, n);
    ASSERT_EQ(*Base64Decode(Base64Encode(prefix)), prefix) << n;
  }
}

TEST(Base64Test, RefusesMalformedText) {
  for (const char* bad : {"Zg=", "Zg=a", "Z===", "Zm9v!A==", "=Zm9"}) {
    EXPECT_EQ(Base64Decode(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(StoreOpTest, NamesRoundTrip) {
  for (StoreOp op : {StoreOp::kSet, StoreOp::kGet, StoreOp::kTryGet, StoreOp::kAdd,
                     StoreOp::kCompareSet, StoreOp::kWait, StoreOp::kDelete, StoreOp::kKeys}) {
    EXPECT_EQ(ParseStoreOp(StoreOpName(op)), op);
  }
  EXPECT_EQ(ParseStoreOp("compare_set"), std::nullopt);
}

TEST(StoreRequestTest, EveryFieldSurvivesEncoding) {
  StoreRequest set;
  set.keys = {"k"};
  set.value = std::string("\0\xff binary", 9);
  set.ttl = Milliseconds(1500);
  StoreRequest decoded = *DecodeRequest(StoreOp::kSet, EncodeRequest(StoreOp::kSet, set));
  EXPECT_THAT(decoded.keys, ElementsAre("k"));
  EXPECT_EQ(decoded.value, set.value);
  EXPECT_EQ(decoded.ttl, Milliseconds(1500));

  StoreRequest cas;
  cas.keys = {"leader"};
  cas.value = "new";
  decoded = *DecodeRequest(StoreOp::kCompareSet, EncodeRequest(StoreOp::kCompareSet, cas));
  EXPECT_EQ(decoded.expected, std::nullopt);
  cas.expected = "";
  decoded = *DecodeRequest(StoreOp::kCompareSet, EncodeRequest(StoreOp::kCompareSet, cas));
  EXPECT_EQ(decoded.expected, std::optional<std::string>(""));
  EXPECT_EQ(decoded.value, "new");

  StoreRequest wait;
  wait.keys = {"a", "b"};
  wait.timeout = Milliseconds(250);
  decoded = *DecodeRequest(StoreOp::kWait, EncodeRequest(StoreOp::kWait, wait));
  EXPECT_THAT(decoded.keys, ElementsAre("a", "b"));
  EXPECT_EQ(decoded.timeout, Milliseconds(250));

  StoreRequest add;
  add.keys = {"n"};
  add.delta = -3;
  EXPECT_EQ(DecodeRequest(StoreOp::kAdd, EncodeRequest(StoreOp::kAdd, add))->delta, -3);
}

TEST(StoreRequestTest, MalformedBodiesNameTheOpAndTheField) {
  Result<StoreRequest> not_json = DecodeRequest(StoreOp::kSet, "{not json");
  EXPECT_EQ(not_json.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(not_json.status().message(), HasSubstr("'set'"));

  Result<StoreRequest> missing = DecodeRequest(StoreOp::kSet, R"({"key":"k","ttl_ms":0})");
  EXPECT_THAT(missing.status().message(), HasSubstr("field \"value\" is missing"));

  Result<StoreRequest> negative = DecodeRequest(StoreOp::kGet, R"({"key":"k","timeout_ms":-5})");
  EXPECT_THAT(negative.status().message(), HasSubstr("\"timeout_ms\" is not a non-negative"));

  Result<StoreRequest> bad_value =
      DecodeRequest(StoreOp::kSet, R"({"key":"k","value":"@@@@","ttl_ms":0})");
  EXPECT_THAT(bad_value.status().message(), HasSubstr("invalid character"));
}

TEST(StoreReplyTest, ValuesAndAbsenceSurviveEncoding) {
  StoreReply present;
  present.value = "v";
  EXPECT_EQ(DecodeReply(StoreOp::kTryGet, EncodeReply(StoreOp::kTryGet, present))->value,
            std::optional<std::string>("v"));
  StoreReply absent;
  EXPECT_EQ(DecodeReply(StoreOp::kTryGet, EncodeReply(StoreOp::kTryGet, absent))->value,
            std::nullopt);
  StoreReply keys;
  keys.keys = {"a", "b"};
  EXPECT_THAT(DecodeReply(StoreOp::kKeys, EncodeReply(StoreOp::kKeys, keys))->keys,
              ElementsAre("a", "b"));
}

TEST(StoreErrorTest, CodeMessageAndMissingKeysSurvive) {
  const Status status = DeadlineExceededError("timed out waiting for 'b'");
  DecodedError decoded = DecodeError(HttpStatusFor(status.code()), EncodeError(status, {"b"}));
  EXPECT_EQ(decoded.status, status);
  EXPECT_THAT(decoded.missing, ElementsAre("b"));
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
}

TEST(StoreErrorTest, AnAnswerFromSomethingElseSaysWhatCameBack) {
  DecodedError decoded = DecodeError(404, "<html>Not Found</html>");
  EXPECT_EQ(decoded.status.code(), StatusCode::kUnknown);
  EXPECT_THAT(decoded.status.message(), HasSubstr("HTTP 404"));
  EXPECT_THAT(decoded.status.message(), HasSubstr("Not Found"));
  EXPECT_EQ(DecodeError(401, "").status.code(), StatusCode::kUnauthenticated);
}

TEST(MaxRequestBytesTest, FitsTwoEncodedValuesOfTheLimit) {
  StoreLimits limits;
  limits.max_value_bytes = 3000;
  EXPECT_GE(MaxRequestBytes(limits), 2 * 4000u);
}

// The service answers from the state: immediate ops at once, get when the key is set.
TEST(ServeStoreRequestTest, ParksGetUntilASetAnswersIt) {
  StoreState state;
  int replies = 0;
  int last_status = 0;
  std::string last_body;
  auto reply = [&](int http_status, std::string body) {
    ++replies;
    last_status = http_status;
    last_body = std::move(body);
  };
  StoreRequest get;
  get.keys = {"k"};
  get.timeout = Milliseconds(60000);
  ServeStoreRequest(state, StoreOp::kGet, EncodeRequest(StoreOp::kGet, get), reply);
  EXPECT_EQ(replies, 0);
  EXPECT_EQ(state.waiter_count(), 1u);

  StoreRequest set;
  set.keys = {"k"};
  set.value = "v";
  ServeStoreRequest(state, StoreOp::kSet, EncodeRequest(StoreOp::kSet, set), reply);
  ASSERT_EQ(replies, 2);  // the parked get, then the set itself
  EXPECT_EQ(last_status, 200);
  EXPECT_EQ(state.waiter_count(), 0u);
}

TEST(ServeStoreRequestTest, ErrorsCarryTheirHttpStatus) {
  StoreState state;
  int status = 0;
  std::string body;
  ASSERT_TRUE(state.Set("text", "abc", kNoTtl).ok());
  StoreRequest add;
  add.keys = {"text"};
  add.delta = 1;
  ServeStoreRequest(state, StoreOp::kAdd, EncodeRequest(StoreOp::kAdd, add),
                    [&](int s, std::string b) {
                      status = s;
                      body = std::move(b);
                    });
  EXPECT_EQ(status, 400);
  EXPECT_EQ(DecodeError(status, body).status.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace train::internal
