// The etcd store (ConnectEtcdStore) against a real etcd member on loopback: every Store call
// and its contract, TTLs as leases, waits as watches, transactions under concurrent clients,
// members that cannot be reached, and replies lost after etcd acted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "etcd_cluster.h"
#include "etcd_lossy_proxy.h"
#include "train/store.h"

namespace train {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

class EtcdStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!etcd_test::EtcdInstalled()) return;
    std::string error;
    cluster_ = etcd_test::EtcdCluster::Start({}, &error).release();
    ASSERT_NE(cluster_, nullptr) << error;
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    SKIP_WITHOUT_ETCD();
    ASSERT_NE(cluster_, nullptr);
    store_ = Connect();
  }

  // A client whose keys live under this test's own prefix.
  static EtcdOptions Options(std::vector<std::string> endpoints = {}) {
    EtcdOptions options;
    options.endpoints = endpoints.empty() ? cluster_->endpoints() : std::move(endpoints);
    options.key_prefix = std::string("/test/") +
                         ::testing::UnitTest::GetInstance()->current_test_info()->name() + "/";
    options.request_timeout = std::chrono::seconds(10);
    return options;
  }
  static std::unique_ptr<Store> Connect(const EtcdOptions& options = Options()) {
    auto store = ConnectEtcdStore(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  // Polls `done` for up to 60 s (leases expire on the leader's clock, checked twice a second).
  static bool Eventually(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // `threads` threads, two to a client of their own, each making `calls` calls at once; every
  // result (a call that fails is a test failure).
  static std::set<std::int64_t> Racing(int threads, int calls,
                                       const std::function<Result<std::int64_t>(Store*)>& call) {
    std::vector<std::unique_ptr<Store>> clients;
    for (int c = 0; c < (threads + 1) / 2; ++c) clients.push_back(Connect());
    std::vector<std::vector<std::int64_t>> seen(static_cast<std::size_t>(threads));
    std::vector<std::thread> running;
    for (int t = 0; t < threads; ++t) {
      running.emplace_back([&, t] {
        for (int i = 0; i < calls; ++i) {
          auto result = call(clients[static_cast<std::size_t>(t / 2)].get());
          EXPECT_TRUE(result.ok()) << result.status();
          if (result.ok()) seen[static_cast<std::size_t>(t)].push_back(*result);
        }
      });
    }
    for (std::thread& thread : running) thread.join();
    std::set<std::int64_t> all;
    for (const auto& results : seen) all.insert(results.begin(), results.end());
    return all;
  }

  static etcd_test::EtcdCluster* cluster_;
  std::unique_ptr<Store> store_;
};

etcd_test::EtcdCluster* EtcdStoreTest::cluster_ = nullptr;

TEST_F(EtcdStoreTest, EveryOperationKeepsTheContract) {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  ASSERT_TRUE(store_->Set("bytes", bytes).ok());
  EXPECT_EQ(*store_->Get("bytes", std::chrono::seconds(1)), bytes);
  EXPECT_EQ(**store_->TryGet("bytes"), bytes);
  EXPECT_EQ(*store_->TryGet("absent"), std::nullopt);
  ASSERT_TRUE(store_->Set("empty", "").ok());
  EXPECT_EQ(**store_->TryGet("empty"), "");

  EXPECT_THAT(*store_->MultiGet({"bytes", "absent", "empty"}),
              ElementsAre(std::optional(bytes), std::nullopt, std::optional(std::string())));

  EXPECT_EQ(*store_->Add("counter", 5), 5);
  EXPECT_EQ(*store_->Add("counter", -2), 3);
  EXPECT_EQ(*store_->Add("counter", 0), 3);
  EXPECT_EQ(*store_->Add("fresh", 0), 0);
  EXPECT_EQ(**store_->TryGet("fresh"), "0");

  EXPECT_EQ(*store_->CompareSet("cas", std::nullopt, "one"), "one");
  EXPECT_EQ(*store_->CompareSet("cas", std::nullopt, "two"), "one");  // not absent
  EXPECT_EQ(*store_->CompareSet("cas", "zero", "two"), "one");        // no match
  EXPECT_EQ(*store_->CompareSet("cas", "one", "two"), "two");
  EXPECT_EQ(*store_->CompareSet("empty", "", "filled"), "filled");
  EXPECT_EQ(*store_->CompareSet("nothing", "x", "y"), std::nullopt);
  EXPECT_EQ(*store_->TryGet("nothing"), std::nullopt);

  EXPECT_TRUE(store_->Wait({"bytes", "cas"}, std::chrono::seconds(1)).ok());
  EXPECT_TRUE(*store_->Delete("cas"));
  EXPECT_FALSE(*store_->Delete("cas"));
  EXPECT_EQ(*store_->TryGet("cas"), std::nullopt);
}

TEST_F(EtcdStoreTest, InvalidKeysAreRefusedByEveryOperation) {
  for (const std::string& key : {std::string(""), std::string("has space"), std::string("a\nb")}) {
    EXPECT_EQ(store_->Set(key, "v").code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->TryGet(key).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Add(key, 1).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->CompareSet(key, std::nullopt, "v").status().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Delete(key).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Wait({key}, std::chrono::milliseconds(1)).code(),
              StatusCode::kInvalidArgument);
  }
}

TEST_F(EtcdStoreTest, AddOnANonIntegerOrPastInt64IsRefusedNamingTheKey) {
  ASSERT_TRUE(store_->Set("text", "abc").ok());
  const Status text = store_->Add("text", 1).status();
  EXPECT_EQ(text.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(text.message(), AllOf(HasSubstr("'text'"), HasSubstr("'abc'")));
  ASSERT_TRUE(store_->Set("big", std::to_string(INT64_MAX)).ok());
  EXPECT_EQ(store_->Add("big", 1).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(**store_->TryGet("big"), std::to_string(INT64_MAX));
}

TEST_F(EtcdStoreTest, KeysListsThePrefixSortedAndNothingOfOtherPrefixes) {
  for (const char* key : {"node/2", "node/10", "node/1", "other", "nodes"}) {
    ASSERT_TRUE(store_->Set(key, "x").ok());
  }
  ASSERT_TRUE(store_->Add("counter", 1).ok());  // leaves a transaction marker behind
  EXPECT_THAT(*store_->Keys("node/"), ElementsAre("node/1", "node/10", "node/2"));
  EXPECT_THAT(*store_->Keys(""),
              ElementsAre("counter", "node/1", "node/10", "node/2", "nodes", "other"));
  // Another job's prefix in the same cluster sees none of it.
  EtcdOptions neighbour = Options();
  neighbour.key_prefix += "neighbour/";
  auto other = Connect(neighbour);
  EXPECT_THAT(*other->Keys(""), ElementsAre());
  ASSERT_TRUE(other->Set("node/1", "theirs").ok());
  EXPECT_EQ(**store_->TryGet("node/1"), "x");
}

TEST_F(EtcdStoreTest, TtlKeysExpireAndASetWithoutTtlKeepsTheKey) {
  ASSERT_TRUE(store_->Set("beat", "alive", std::chrono::milliseconds(1000)).ok());
  ASSERT_TRUE(store_->Set("kept", "v", std::chrono::milliseconds(1000)).ok());
  ASSERT_TRUE(store_->Set("kept", "v").ok());  // no TTL now: it stays
  ASSERT_TRUE(store_->Set("counted", "1", std::chrono::milliseconds(1000)).ok());
  ASSERT_TRUE(store_->Add("counted", 1).ok());  // Add keeps the key's expiry
  ASSERT_TRUE(Eventually([&] { return !store_->TryGet("beat")->has_value(); }));
  ASSERT_TRUE(Eventually([&] { return !store_->TryGet("counted")->has_value(); }));
  EXPECT_EQ(**store_->TryGet("kept"), "v");
}

// A heartbeat sets one key with one ttl every second: a lease granted per Set was two raft
// writes more per beat (the grant, the old lease's expiry), which at 2048 nodes overloaded a
// member. The key's lease is renewed instead, and a lease that is gone is replaced.
TEST_F(EtcdStoreTest, ASetAgainWithTheSameTtlRenewsTheKeysLease) {
  const std::size_t before = cluster_->LeaseIds().size();
  for (int beat = 0; beat < 5; ++beat) {
    ASSERT_TRUE(store_->Set("beat", "alive", std::chrono::seconds(30)).ok());
  }
  const std::vector<std::string> leases = cluster_->LeaseIds();
  ASSERT_EQ(leases.size(), before + 1) << "one lease for five beats";

  // Revoked by hand (or expired during an outage): the key is gone, and the next beat sets it
  // again under a new lease.
  for (const std::string& id : leases) ASSERT_TRUE(cluster_->RevokeLease(id)) << id;
  EXPECT_FALSE(store_->TryGet("beat")->has_value());
  ASSERT_TRUE(store_->Set("beat", "alive", std::chrono::seconds(30)).ok());
  EXPECT_EQ(**store_->TryGet("beat"), "alive");
  EXPECT_EQ(cluster_->LeaseIds().size(), 1u);

  // A renewed lease still expires when the beats stop.
  ASSERT_TRUE(store_->Set("short", "x", std::chrono::seconds(1)).ok());
  ASSERT_TRUE(store_->Set("short", "y", std::chrono::seconds(1)).ok());
  EXPECT_EQ(**store_->TryGet("short"), "y");
  EXPECT_TRUE(Eventually([&] { return !store_->TryGet("short")->has_value(); }));
  // A Set without a ttl detaches the key from its lease for good.
  ASSERT_TRUE(store_->Set("beat", "kept").ok());
  for (const std::string& id : cluster_->LeaseIds()) ASSERT_TRUE(cluster_->RevokeLease(id));
  EXPECT_EQ(**store_->TryGet("beat"), "kept");
}

TEST_F(EtcdStoreTest, BlockingGetIsWokenBySetFromAnotherClient) {
  auto other = Connect();
  std::atomic<bool> waiting{false};
  Result<std::string> got = UnknownError("not run");
  std::thread getter([&] {
    waiting = true;
    got = store_->Get("late", std::chrono::seconds(60));
  });
  while (!waiting) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let it reach its watch
  ASSERT_TRUE(other->Set("late", "here").ok());
  getter.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "here");
}

TEST_F(EtcdStoreTest, WaitsInSlicesShareOneWatchAndSeeEveryChangeBetweenThem) {
  // Counts the watches opened through it (and loses nothing).
  etcd_test::LossyProxy proxy(cluster_->client_port(0), "/v3/watch", 0);
  auto waiter = Connect(Options({"127.0.0.1:" + std::to_string(proxy.port())}));
  const auto slice = std::chrono::milliseconds(400);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(waiter->Get("slice", slice).status().code(), StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(proxy.matched(), 1) << "one watch for three slices of one wait";
  // Set and deleted between two short slices: the next one reads the key first and skips what
  // the parked stream delivers from before that read, so the deleted value never comes back.
  ASSERT_TRUE(store_->Set("slice", "gone").ok());
  ASSERT_TRUE(*store_->Delete("slice"));
  EXPECT_EQ(waiter->Get("slice", slice).status().code(), StatusCode::kDeadlineExceeded);
  // Set between two slices: seen at once, even with no time left to wait.
  ASSERT_TRUE(store_->Set("slice", "here").ok());
  EXPECT_EQ(*waiter->Get("slice", std::chrono::milliseconds(0)), "here");
  // A wait that got its keys closes its watch: the next wait opens one.
  ASSERT_TRUE(*store_->Delete("slice"));
  EXPECT_EQ(waiter->Get("slice", slice).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(proxy.matched(), 2);
  // A slice of a second or more goes on from the parked stream without reading: it sees a set
  // that came while no one waited (the stream delivered it meanwhile) and one that comes later.
  ASSERT_TRUE(store_->Set("slice", "while parked").ok());
  EXPECT_EQ(*waiter->Get("slice", std::chrono::seconds(30)), "while parked");
  EXPECT_EQ(proxy.matched(), 2);
  // A wait for other keys opens a watch of its own.
  EXPECT_EQ(waiter->Wait({"other/a", "other/b"}, slice).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(proxy.matched(), 3);
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(store_->Set("other/a", "a").ok());
    EXPECT_TRUE(store_->Set("other/b", "b").ok());
  });
  EXPECT_TRUE(waiter->Wait({"other/a", "other/b"}, std::chrono::seconds(30)).ok());
  setter.join();
  EXPECT_EQ(proxy.matched(), 3);
}

TEST_F(EtcdStoreTest, AWatchTheMemberConfirmsLateIsKeptForTheNextSlices) {
  // A busy member: it confirms each watch 1.5 s after it was asked, later than a slice ends.
  // The waiter keeps the stream it started rather than start another every slice (thousands
  // of waiters doing that kept a busy etcd busy), and the stream delivers what comes later.
  etcd_test::LossyProxy proxy(cluster_->client_port(0), "/v3/watch", 0, nullptr,
                              std::chrono::milliseconds(1500));
  auto waiter = Connect(Options({"127.0.0.1:" + std::to_string(proxy.port())}));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(waiter->Get("late", std::chrono::milliseconds(400)).status().code(),
              StatusCode::kDeadlineExceeded);
  }
  EXPECT_EQ(proxy.matched(), 1) << "one watch for four slices while etcd had not confirmed it";
  ASSERT_TRUE(store_->Set("late", "seen").ok());
  EXPECT_EQ(*waiter->Get("late", std::chrono::seconds(10)), "seen");
  EXPECT_EQ(proxy.matched(), 1);
}

TEST_F(EtcdStoreTest, WaitReturnsOnceTheLastKeyIsSetAmongOthers) {
  auto other = Connect();
  Status waited = UnknownError("not run");
  std::thread waiter([&] {
    waited = store_->Wait({"w/a", "w/c", "w/e"}, std::chrono::minutes(1));
  });
  for (const char* key : {"w/a", "w/b", "w/d", "w/c"}) {
    ASSERT_TRUE(other->Set(key, "x").ok());
  }
  ASSERT_TRUE(other->Set("w/e", "x").ok());
  waiter.join();
  EXPECT_TRUE(waited.ok()) << waited;
}

TEST_F(EtcdStoreTest, DeadlinesNameTheMissingKeysOnly) {
  ASSERT_TRUE(store_->Set("a", "1").ok());
  const Status wait = store_->Wait({"a", "b", "c"}, std::chrono::milliseconds(300));
  EXPECT_EQ(wait.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(wait.message(), AllOf(HasSubstr("2 of 3 keys: 'b', 'c'"), Not(HasSubstr("'a'"))));
  const Status get = store_->Get("b", std::chrono::milliseconds(200)).status();
  EXPECT_EQ(get.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(get.message(), HasSubstr("key 'b'"));
  store_->set_default_timeout(std::chrono::milliseconds(100));
  EXPECT_EQ(store_->Get("b").status().code(), StatusCode::kDeadlineExceeded);
}

TEST_F(EtcdStoreTest, ConcurrentAddsFromManyClientsEachCountOnce) {
  constexpr int kThreads = 8;
  constexpr int kAdds = 25;
  const auto all = Racing(kThreads, kAdds, [](Store* s) { return s->Add("shared", 1); });
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kAdds));  // every result distinct
  EXPECT_EQ(**store_->TryGet("shared"), std::to_string(kThreads * kAdds));
}

TEST_F(EtcdStoreTest, TicketsFromRacingClientsAreOneToNEachOnce) {
  constexpr int kThreads = 16;
  constexpr int kTickets = 10;
  const auto all = Racing(kThreads, kTickets, [](Store* s) { return s->TakeTicket("line"); });
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kTickets)) << "every ticket distinct";
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kTickets);
  EXPECT_EQ(*store_->TicketsTaken("line"), kThreads * kTickets);
  EXPECT_EQ(*store_->TicketsTaken("no-line"), 0);
  EXPECT_EQ(store_->TakeTicket("bad key").status().code(), StatusCode::kInvalidArgument);
  // A key of tickets is no integer for Add: the error names the key.
  const Status add = store_->Add("line", 1).status();
  EXPECT_EQ(add.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(add.message(), HasSubstr("line"));
}

TEST_F(EtcdStoreTest, APrefixStoreHandsTicketsToEtcdNotToAdd) {
  auto round = NewPrefixStore("round/7/", store_.get());
  EXPECT_EQ(*round->TakeTicket("joined"), 1);
  EXPECT_EQ(*round->TakeTicket("joined"), 2);
  EXPECT_EQ(*round->TicketsTaken("joined"), 2);
  // A ticket is a put of the key, not Add's read and swap of an integer.
  EXPECT_EQ(*store_->TryGet("round/7/joined"), std::optional<std::string>(""));
}

TEST_F(EtcdStoreTest, ATicketWhoseReplyWasLostIsTakenOnce) {
  ASSERT_EQ(*store_->TakeTicket("queue"), 1);
  // Another client takes the next ticket while the first waits for an answer that never comes.
  std::atomic<std::int64_t> between{0};
  etcd_test::LossyProxy proxy(cluster_->client_port(0), "/v3/kv/txn", 1,
                              [&] { between = store_->TakeTicket("queue").value_or(-1); });
  auto lossy =
      Connect(Options({"127.0.0.1:" + std::to_string(proxy.port()), cluster_->endpoint(0)}));
  auto ticket = lossy->TakeTicket("queue");
  ASSERT_TRUE(ticket.ok()) << ticket.status();
  EXPECT_EQ(proxy.dropped(), 1);
  EXPECT_EQ(between, 3);
  EXPECT_EQ(*ticket, 2) << "the resent transaction answers the ticket its first send took";
  EXPECT_EQ(*store_->TicketsTaken("queue"), 3) << "and takes no other";
}

TEST_F(EtcdStoreTest, ConcurrentCompareSetsHaveExactlyOneWinner) {
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<Store>> clients;
  for (int t = 0; t < kThreads; ++t) clients.push_back(Connect());
  std::vector<std::optional<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto result = clients[t]->CompareSet("leader", std::nullopt, "agent-" + std::to_string(t));
      if (result.ok()) results[t] = *result;
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string winner = **store_->TryGet("leader");
  int won = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(results[t], winner) << "thread " << t;
    won += winner == "agent-" + std::to_string(t);
  }
  EXPECT_EQ(won, 1);
}

TEST_F(EtcdStoreTest, MultiGetReadsHundredsOfKeysInOrder) {
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("many/" + std::to_string(i));
    if (i % 3 != 0) {
      ASSERT_TRUE(store_->Set(keys.back(), std::to_string(i)).ok());
    }
  }
  auto values = store_->MultiGet(keys);
  ASSERT_TRUE(values.ok()) << values.status();
  ASSERT_EQ(values->size(), keys.size());
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ((*values)[i], i % 3 == 0 ? std::nullopt : std::optional(std::to_string(i)));
  }
}

TEST_F(EtcdStoreTest, MultiSetWritesHundredsOfKeysAcrossTransactions) {
  std::vector<std::string> keys, values;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("ranks/" + std::to_string(i));
    values.push_back(std::to_string(i * 7));
  }
  ASSERT_TRUE(store_->MultiSet(keys, values).ok());
  auto read = store_->MultiGet(keys);
  ASSERT_TRUE(read.ok()) << read.status();
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ((*read)[i], values[i]) << i;
  EXPECT_EQ(store_->MultiSet({"ranks/x", "bad key"}, {"1", "2"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->TryGet("ranks/x"), std::nullopt) << "a refused MultiSet sets nothing";
}

TEST_F(EtcdStoreTest, ATransactionWhoseReplyWasLostIsAppliedOnce) {
  // The first transaction's answer is lost after etcd applied it; the client sends it again.
  etcd_test::LossyProxy proxy(cluster_->client_port(0), "/v3/kv/txn", 1);
  auto lossy =
      Connect(Options({"127.0.0.1:" + std::to_string(proxy.port()), cluster_->endpoint(0)}));
  auto added = lossy->Add("once", 1);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(proxy.dropped(), 1);
  EXPECT_EQ(*added, 1);
  EXPECT_EQ(**store_->TryGet("once"), "1");

  etcd_test::LossyProxy again(cluster_->client_port(0), "/v3/kv/txn", 1);
  auto swapping =
      Connect(Options({"127.0.0.1:" + std::to_string(again.port()), cluster_->endpoint(0)}));
  EXPECT_EQ(*swapping->CompareSet("claim", std::nullopt, "mine"), "mine");
  EXPECT_EQ(again.dropped(), 1);
}

TEST_F(EtcdStoreTest, UnreachableMembersAreSkippedAndNamedWhenNoneAnswers) {
  const std::string dead = "127.0.0.1:" + std::to_string(etcd_test::FreeLoopbackPort());
  auto skipping = Connect(Options({dead, cluster_->endpoint(0)}));
  ASSERT_TRUE(skipping->Set("k", "v").ok());
  EXPECT_EQ(*skipping->Get("k", std::chrono::seconds(5)), "v");

  EtcdOptions nobody = Options({dead});
  nobody.request_timeout = std::chrono::milliseconds(1500);
  const Status status = Connect(nobody)->Set("k", "v");
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr(dead));
}

TEST_F(EtcdStoreTest, BadOptionsAreRefusedNamingTheField) {
  EtcdOptions none = Options();
  none.endpoints.clear();
  EXPECT_THAT(ConnectEtcdStore(none).status().message(), HasSubstr("endpoints"));
  EtcdOptions url = Options({"ftp://etcd:2379"});
  EXPECT_EQ(ConnectEtcdStore(url).status().code(), StatusCode::kInvalidArgument);
  EtcdOptions ca = Options();
  ca.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(ConnectEtcdStore(ca).status().message(),
              AllOf(HasSubstr("ca_file"), HasSubstr("/nonexistent/ca.pem")));
}

TEST_F(EtcdStoreTest, AJobsKeysAreDeletedTogetherAndOnlyThem) {
  ASSERT_TRUE(store_->Set("job/a", "1").ok());
  ASSERT_TRUE(store_->Add("job/b", 1).ok());
  EtcdOptions neighbour = Options();
  neighbour.key_prefix.pop_back();  // "/test/<name>" without its slash: a sibling, not a child
  neighbour.key_prefix += "-next/";
  auto other = Connect(neighbour);
  ASSERT_TRUE(other->Set("job/a", "kept").ok());
  auto deleted = DeleteEtcdPrefix(Options());
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_GE(*deleted, 2);
  EXPECT_THAT(*store_->Keys(""), ElementsAre());
  EXPECT_EQ(**other->TryGet("job/a"), "kept");
  EtcdOptions everything = Options();
  everything.key_prefix.clear();
  EXPECT_EQ(DeleteEtcdPrefix(everything).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EtcdStoreTest, JobOptionsScopeTheJobAndReadThePasswordFile) {
  const std::string password = (cluster_->scratch() / "password").string();
  std::ofstream(password) << "s3cret\n";
  EtcdConfig config;
  config.endpoints = cluster_->endpoints();
  config.username = "trainer";
  config.password_file = password;
  auto options = JobEtcdOptions(config, "mnist");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->key_prefix, "/trainctl/mnist/");
  EXPECT_EQ(options->password, "s3cret");
  config.password_file = "/nonexistent/password";
  EXPECT_THAT(JobEtcdOptions(config, "mnist").status().message(),
              HasSubstr("/nonexistent/password"));
  EXPECT_EQ(JobEtcdOptions(config, "").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace train
