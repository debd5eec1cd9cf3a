// What the etcd store writes to and reads from etcd's JSON gateway, without an etcd.
#include "store/etcd_wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/base64.h"

namespace train::internal {
namespace {

using ::testing::HasSubstr;

TEST(EtcdWireTest, PrefixEndIsTheFirstKeyPastThePrefix) {
  EXPECT_EQ(EtcdPrefixEnd("/trainctl/job/"), "/trainctl/job0");
  EXPECT_EQ(EtcdPrefixEnd("a\xff"), "b");
  EXPECT_EQ(EtcdPrefixEnd("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(EtcdPrefixEnd(""), std::string(1, '\0'));
}

TEST(EtcdWireTest, Int64FieldsAreStringsAndAbsentMeansZero) {
  const Json kv = Json::parse(R"({"mod_revision":"9007199254740993","version":3})");
  EXPECT_EQ(JsonInt64(kv, "mod_revision"), 9007199254740993);
  EXPECT_EQ(JsonInt64(kv, "version"), 3);
  EXPECT_EQ(JsonInt64(kv, "create_revision"), 0);
  EXPECT_EQ(JsonInt64(Json::parse(R"({"x":"12a"})"), "x"), 0);
}

TEST(EtcdWireTest, RequestsCarryBase64BytesAndStringRevisions) {
  const Json put = EtcdPut(std::string("k\0ey", 4), "v", 42, true);
  EXPECT_EQ(*Base64Decode(put["key"].get<std::string>()), std::string("k\0ey", 4));
  EXPECT_EQ(put["lease"], "42");
  EXPECT_EQ(put["ignore_lease"], true);
  EXPECT_FALSE(EtcdPut("k", "v").contains("lease"));
  const Json compare = EtcdCompareInt("k", "MOD", "EQUAL", 7);
  EXPECT_EQ(compare["mod_revision"], "7");
  EXPECT_EQ(EtcdCompareInt("k", "CREATE", "EQUAL", 0)["create_revision"], "0");
  EXPECT_EQ(EtcdCompareInt("k", "VERSION", "GREATER", 0)["version"], "0");
  const Json watch = EtcdWatchCreate("a", "b", 12)["create_request"];
  EXPECT_EQ(watch["start_revision"], "12");
  EXPECT_EQ(*Base64Decode(watch["range_end"].get<std::string>()), "b");
  EXPECT_FALSE(EtcdWatchCreate("a", "", 12)["create_request"].contains("range_end"));
}

TEST(EtcdWireTest, RangeAndWatchAnswersDecode) {
  const Json range = Json::parse(
      R"({"header":{"revision":"15"},"kvs":[{"key":"Zm9v","create_revision":"2",
          "mod_revision":"14","version":"3","value":"YmFy"}],"count":"1"})");
  EXPECT_EQ(EtcdRevision(range), 15);
  auto kvs = EtcdKvs(range);
  ASSERT_TRUE(kvs.ok());
  ASSERT_EQ(kvs->size(), 1u);
  EXPECT_EQ((*kvs)[0].key, "foo");
  EXPECT_EQ((*kvs)[0].value, "bar");
  EXPECT_EQ((*kvs)[0].mod_revision, 14);
  EXPECT_TRUE(EtcdKvs(Json::parse(R"({"header":{}})"))->empty());  // nothing found
  // A put that set the empty value leaves "value" out.
  EXPECT_EQ((*EtcdKvs(Json::parse(R"({"kvs":[{"key":"Zm9v"}]})")))[0].value, "");

  const Json events = Json::parse(
      R"({"events":[{"kv":{"key":"Zm9v","value":"eA=="}},{"type":"DELETE","kv":{"key":"Zm9v"}}]})");
  auto decoded = EtcdEvents(events);
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_FALSE((*decoded)[0].deleted);
  EXPECT_EQ((*decoded)[0].kv.value, "x");
  EXPECT_TRUE((*decoded)[1].deleted);
  EXPECT_EQ(EtcdKvs(Json::parse(R"({"kvs":[{"key":"!!"}]})")).status().code(),
            StatusCode::kDataLoss);
}

TEST(EtcdWireTest, TxnResponsesAreFoundByIndexAndKind) {
  const Json txn = Json::parse(
      R"({"responses":[{"response_range":{"kvs":[{"key":"YQ=="}]}},{"response_range":{}}]})");
  EXPECT_EQ(EtcdKvs(*EtcdTxnResponse(txn, 0, "response_range"))->size(), 1u);
  EXPECT_TRUE(EtcdKvs(*EtcdTxnResponse(txn, 1, "response_range"))->empty());
  EXPECT_EQ(EtcdTxnResponse(txn, 2, "response_range").status().code(), StatusCode::kDataLoss);
}

TEST(EtcdWireTest, ErrorsKeepTheirCodeAndMessage) {
  auto error = EtcdErrorOf(
      R"({"error":"etcdserver: authentication failed, invalid user ID or password",
          "message":"etcdserver: authentication failed, invalid user ID or password","code":3})");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, kGrpcInvalidArgument);
  EXPECT_THAT(error->message, HasSubstr("invalid user ID or password"));
  EXPECT_FALSE(EtcdErrorOf(R"({"header":{}})").has_value());
  EXPECT_FALSE(EtcdErrorOf("not json").has_value());
  EXPECT_EQ(StatusCodeOfGrpc(kGrpcPermissionDenied), StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusCodeOfGrpc(12), StatusCode::kUnknown);  // UNIMPLEMENTED has no twin here
}

}  // namespace
}  // namespace train::internal
