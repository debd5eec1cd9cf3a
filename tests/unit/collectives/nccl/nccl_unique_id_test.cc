// How the ranks of an NCCL communicator agree on its unique id, without a GPU: through the
// store or a bootstrap communicator (ranks as threads), text-safe, and never a stale id when a
// name is used again.
#include "nccl/nccl_unique_id.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "train/communicator.h"
#include "train/store.h"

namespace train::internal {
namespace {

bool SameId(const ncclUniqueId& a, const ncclUniqueId& b) {
  return std::memcmp(a.internal, b.internal, sizeof(a.internal)) == 0;
}

Deadline InAMinute() { return std::chrono::steady_clock::now() + std::chrono::minutes(1); }

TEST(NcclUniqueIdTest, HexRoundTripsEveryByte) {
  ncclUniqueId id;
  for (std::size_t i = 0; i < sizeof(id.internal); ++i) id.internal[i] = static_cast<char>(i * 37);
  const std::string text = EncodeUniqueId(id);
  EXPECT_EQ(text.size(), 2 * sizeof(id.internal));
  EXPECT_EQ(text.find_first_not_of("0123456789abcdef"), std::string::npos) << text;
  auto decoded = DecodeUniqueId(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(SameId(*decoded, id));
}

TEST(NcclUniqueIdTest, MalformedTextIsRefused) {
  EXPECT_EQ(DecodeUniqueId("abc").status().code(), StatusCode::kInvalidArgument);
  std::string text(2 * sizeof(ncclUniqueId::internal), '0');
  text[17] = 'z';
  const Status status = DecodeUniqueId(text).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("17"), std::string::npos) << status;
}

// Each round, every rank (a thread) exchanges an id under the same name; all get rank 0's,
// and the second round gets a new one.
TEST(NcclUniqueIdTest, EveryRankGetsRankZerosIdAndANameUsedAgainGetsANewOne) {
  constexpr int kRanks = 3;
  std::unique_ptr<Store> store = NewInMemoryStore();
  std::vector<std::vector<ncclUniqueId>> ids(2, std::vector<ncclUniqueId>(kRanks));
  for (int round = 0; round < 2; ++round) {
    std::vector<std::thread> ranks;
    std::vector<Status> statuses(kRanks);
    for (int rank = 0; rank < kRanks; ++rank) {
      ranks.emplace_back([&, rank] {
        BackendArgs args;
        args.store = store.get();
        args.rank = rank;
        args.world_size = kRanks;
        args.options.name = "grads";
        auto id = ExchangeUniqueId(args, InAMinute());
        statuses[rank] = id.status();
        if (id.ok()) ids[round][rank] = *id;
      });
    }
    for (auto& thread : ranks) thread.join();
    for (int rank = 0; rank < kRanks; ++rank) {
      ASSERT_TRUE(statuses[rank].ok()) << "rank " << rank << ": " << statuses[rank];
      EXPECT_TRUE(SameId(ids[round][rank], ids[round][0])) << "rank " << rank;
    }
  }
  EXPECT_FALSE(SameId(ids[0][0], ids[1][0]));
}

// Under mpirun the id travels through the MPI communicator; any CPU communicator does the same.
TEST(NcclUniqueIdTest, ABootstrapCommunicatorCarriesRankZerosId) {
  constexpr int kRanks = 3;
  std::unique_ptr<Store> store = NewInMemoryStore();
  std::vector<ncclUniqueId> ids(kRanks);
  std::vector<Status> statuses(kRanks);
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < kRanks; ++rank) {
    ranks.emplace_back([&, rank] {
      CommunicatorOptions cpu;
      cpu.backend = CommBackend::kCpu;
      cpu.name = "bootstrap";
      auto bootstrap = Communicator::Create(store.get(), rank, kRanks, cpu);
      if (!bootstrap.ok()) {
        statuses[rank] = bootstrap.status();
        return;
      }
      BackendArgs args;  // no store: the id must come through the bootstrap
      args.rank = rank;
      args.world_size = kRanks;
      args.bootstrap = bootstrap->get();
      auto id = ExchangeUniqueId(args, InAMinute());
      statuses[rank] = id.status();
      if (id.ok()) ids[rank] = *id;
    });
  }
  for (auto& thread : ranks) thread.join();
  for (int rank = 0; rank < kRanks; ++rank) {
    ASSERT_TRUE(statuses[rank].ok()) << "rank " << rank << ": " << statuses[rank];
    EXPECT_TRUE(SameId(ids[rank], ids[0])) << "rank " << rank;
  }
}

TEST(NcclUniqueIdTest, ABootstrapOfOtherRanksIsRefused) {
  std::unique_ptr<Store> store = NewInMemoryStore();
  CommunicatorOptions cpu;
  cpu.backend = CommBackend::kCpu;
  auto bootstrap = Communicator::Create(store.get(), 0, 1, cpu);
  ASSERT_TRUE(bootstrap.ok()) << bootstrap.status();
  BackendArgs args;
  args.rank = 0;
  args.world_size = 2;
  args.bootstrap = bootstrap->get();
  const Status status = ExchangeUniqueId(args, InAMinute()).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("rank 0 of 1"), std::string::npos) << status;
}

TEST(NcclUniqueIdTest, ARankWaitingForRankZeroNamesTheKeyWhenItGivesUp) {
  std::unique_ptr<Store> store = NewInMemoryStore();
  BackendArgs args;
  args.store = store.get();
  args.rank = 1;
  args.world_size = 2;
  args.options.name = "lonely";
  auto id = ExchangeUniqueId(args, std::chrono::steady_clock::now());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kDeadlineExceeded) << id.status();
  EXPECT_NE(id.status().message().find("lonely/nccl-id/1"), std::string::npos) << id.status();
}

TEST(NcclUniqueIdTest, AWorldOfOneNeedsNoStore) {
  BackendArgs args;
  EXPECT_TRUE(ExchangeUniqueId(args, InAMinute()).ok());
  args.world_size = 2;
  EXPECT_EQ(ExchangeUniqueId(args, InAMinute()).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace train::internal
