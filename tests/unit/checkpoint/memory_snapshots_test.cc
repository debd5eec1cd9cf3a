// In-memory peer snapshots: the blob's round trip and its refusal of damaged or hostile bytes,
// the replica groups, and ranks as threads whose "nodes" are separate directories: a node's
// directory deleted (the node lost) is restored from the copies on the others.
#include "train/memory_snapshots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "../../scratch_dir.h"
#include "checkpoint_test_util.h"
#include "crc32c.h"
#include "snapshot_blob.h"
#include "snapshot_dir.h"
#include "snapshot_plan.h"

namespace train {
namespace {

namespace fs = std::filesystem;
using internal::DecodeSnapshot;
using internal::EncodeSnapshot;
using internal::SnapshotHeader;
using testing::MakeState;
using testing::OnRanks;
using testing::OwnedState;
using testing::ScratchDir;

void ExpectSameState(const OwnedState& want, const OwnedState& got) {
  ASSERT_EQ(want.tensors.size(), got.tensors.size());
  for (std::size_t i = 0; i < want.tensors.size(); ++i) {
    EXPECT_EQ(want.tensors[i].bytes, got.tensors[i].bytes) << want.tensors[i].name;
  }
}

void ExpectSameRest(const CheckpointState& want, const LoadedCheckpoint& got) {
  ASSERT_TRUE(got.optimizer.has_value());
  EXPECT_EQ(got.optimizer->step, want.optimizer->step);
  EXPECT_EQ(got.optimizer->names, want.optimizer->names);
  EXPECT_EQ(got.optimizer->buffers, want.optimizer->buffers);
  EXPECT_EQ(got.sampler, want.sampler);
  EXPECT_EQ(got.rng, want.rng);
  EXPECT_EQ(got.metadata, want.metadata);
}

TEST(SnapshotBlob, RoundTripsEveryPartOfTheState) {
  const OwnedState saved = MakeState(1, 4, 1000, 7, false);
  OwnedState into = MakeState(1, 4, 1000, 7, true);
  const SnapshotHeader header{12, 1, 4, "job"};
  auto blob = EncodeSnapshot(header, saved.state);
  ASSERT_TRUE(blob.ok()) << blob.status();
  auto decoded = DecodeSnapshot(*blob, header, into.state);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE(internal::ApplySnapshot(*decoded, into.state).ok());
  ExpectSameState(saved, into);
  ExpectSameRest(saved.state, decoded->rest);
  EXPECT_EQ(decoded->rest.step, 12);
  EXPECT_EQ(decoded->rest.world_size, 4);
}

TEST(SnapshotBlob, RefusesAnotherRankStepJobOrLayout) {
  const OwnedState saved = MakeState(0, 2, 64, 1, false);
  OwnedState into = MakeState(0, 2, 64, 1, true);
  auto blob = EncodeSnapshot({5, 0, 2, "job"}, saved.state);
  ASSERT_TRUE(blob.ok());
  EXPECT_FALSE(DecodeSnapshot(*blob, {5, 1, 2, "job"}, into.state).ok());
  EXPECT_FALSE(DecodeSnapshot(*blob, {6, 0, 2, "job"}, into.state).ok());
  EXPECT_FALSE(DecodeSnapshot(*blob, {5, 0, 4, "job"}, into.state).ok());
  EXPECT_FALSE(DecodeSnapshot(*blob, {5, 0, 2, "other"}, into.state).ok());
  OwnedState fewer = MakeState(0, 2, 64, 1, true);
  fewer.tensors.pop_back();
  fewer.RebuildViews();
  auto refused = DecodeSnapshot(*blob, {5, 0, 2, "job"}, fewer.state);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("does not match"), std::string::npos);
}

TEST(SnapshotBlob, EveryTruncationAndFlippedByteIsAnErrorNotACrash) {
  const OwnedState saved = MakeState(0, 1, 16, 3, false);
  OwnedState into = MakeState(0, 1, 16, 3, true);
  const SnapshotHeader header{1, 0, 1, ""};
  auto blob = EncodeSnapshot(header, saved.state);
  ASSERT_TRUE(blob.ok());
  for (std::size_t size = 0; size < blob->size(); ++size) {
    std::vector<std::byte> cut(blob->begin(), blob->begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_FALSE(DecodeSnapshot(cut, header, into.state).ok()) << size;
  }
  for (std::size_t at = 0; at < blob->size(); ++at) {
    std::vector<std::byte> flipped = *blob;
    flipped[at] ^= std::byte{0x40};
    EXPECT_FALSE(DecodeSnapshot(flipped, header, into.state).ok()) << at;
  }
}

// A hostile blob whose checksum is right: every byte set to 0xFF in turn (absurd counts and
// lengths), the checksum recomputed. The parser must refuse it without reading past the end
// or allocating what the count claims.
TEST(SnapshotBlob, HostileCountsWithAValidChecksumAreRefusedCheaply) {
  const OwnedState saved = MakeState(0, 1, 16, 3, false);
  OwnedState into = MakeState(0, 1, 16, 3, true);
  const SnapshotHeader header{1, 0, 1, ""};
  auto blob = EncodeSnapshot(header, saved.state);
  ASSERT_TRUE(blob.ok());
  const std::size_t body = blob->size() - sizeof(std::uint32_t);
  int accepted = 0;
  for (std::size_t at = 0; at < body; ++at) {
    std::vector<std::byte> hostile = *blob;
    hostile[at] = std::byte{0xFF};
    const std::uint32_t crc = internal::Crc32c(hostile.data(), body);
    std::memcpy(hostile.data() + body, &crc, sizeof(crc));
    if (DecodeSnapshot(hostile, header, into.state).ok()) ++accepted;  // a data byte changed
  }
  EXPECT_LT(accepted, static_cast<int>(body));
}

TEST(SnapshotDir, NamesParseAndStrangersAreIgnored) {
  auto file = internal::ParseSnapshotName("w4-rank-3-step-120.snap");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->world_size, 4);
  EXPECT_EQ(file->rank, 3);
  EXPECT_EQ(file->step, 120);
  for (const char* bad : {"w4-rank-4-step-1.snap", "w0-rank-0-step-1.snap", "w4-rank-1-step-1",
                          "w4-rank-1-step-1.snap.tmp", "w4-rank--1-step-1.snap",
                          "w4-rank-1-step--5.snap", "notes.txt"}) {
    EXPECT_FALSE(internal::ParseSnapshotName(bad).has_value()) << bad;
  }
}

TEST(SnapshotDir, AFifoInPlaceOfASnapshotIsRefusedWithoutHanging) {
  ScratchDir dir;
  internal::SnapshotDir snapshots(dir.str());
  const std::string path = snapshots.PathOf({1, 0, 3, 0});
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_FALSE(snapshots.Read({1, 0, 3, 0}).ok());
}

TEST(ReplicaLayout, NodesFormGroupsOfReplicasPlusOneTheLastTakingTheRest) {
  // 3 nodes of 2 ranks, replicas 1: groups {0,1,2} (3 / 2 = 1 group), by local index.
  const std::vector<std::int64_t> three = {0, 0, 1, 1, 2, 2};
  auto layout = internal::ReplicaLayout::Compute(three, 2, 1);
  EXPECT_EQ(layout.nodes, 3);
  EXPECT_EQ(layout.group_ranks, (std::vector<int>{0, 2, 4}));
  EXPECT_TRUE(layout.first_on_node);
  EXPECT_FALSE(internal::ReplicaLayout::Compute(three, 3, 1).first_on_node);
  EXPECT_EQ(internal::ReplicaLayout::Compute(three, 3, 1).group_ranks, (std::vector<int>{1, 3, 5}));
  // 4 nodes of 1 rank, replicas 1: {0,1} and {2,3}.
  const std::vector<std::int64_t> four = {0, 1, 2, 3};
  EXPECT_EQ(internal::ReplicaLayout::Compute(four, 3, 1).group_ranks, (std::vector<int>{2, 3}));
  EXPECT_EQ(internal::ReplicaLayout::Compute(four, 0, 3).group_ranks,
            (std::vector<int>{0, 1, 2, 3}));
  // One node, or no replicas: no group.
  EXPECT_EQ(internal::ReplicaLayout::Compute({0, 0}, 1, 1).group_color, -1);
  EXPECT_EQ(internal::ReplicaLayout::Compute(four, 1, 0).group_color, -1);
  // Nodes of unequal size: the extra rank has no peer.
  EXPECT_EQ(internal::ReplicaLayout::Compute({0, 0, 1}, 1, 1).group_ranks, (std::vector<int>{1}));
  // What node 0 of `three` keeps: its ranks and their peers.
  EXPECT_EQ(layout.kept_on_node.size(), 6u);
}

TEST(PlanRestores, TakesTheNewestStepHeldForEveryRankPreferringTheOwner) {
  using internal::SnapshotFile;
  // Ranks 0,1 on node A; ranks 2,3 on node B, which lost step 8 of rank 3.
  const std::vector<SnapshotFile> a = {{4, 0, 8, 10}, {4, 1, 8, 10}, {4, 2, 8, 10}, {4, 0, 7, 10},
                                       {4, 1, 7, 10}, {4, 2, 7, 10}, {4, 3, 7, 10}};
  const std::vector<SnapshotFile> b = {{4, 2, 8, 10}, {4, 2, 7, 10}, {4, 3, 7, 10}};
  auto plans = internal::PlanRestores({a, a, b, b}, 4);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].step, 7);
  EXPECT_EQ(plans[0].transfers[3].holder, 3);
  EXPECT_EQ(plans[0].from_peers, 0);
  // Node B lost: ranks 2 and 3 come from node A's copies.
  plans = internal::PlanRestores({a, a, {}, {}}, 4);
  ASSERT_EQ(plans.size(), 1u);
  EXPECT_EQ(plans[0].step, 7);
  EXPECT_EQ(plans[0].transfers[2].holder, 0);
  EXPECT_EQ(plans[0].from_peers, 2);
  // Snapshots of another world size never count.
  EXPECT_TRUE(internal::PlanRestores({a, a, b, b}, 2).empty());
}

// 4 ranks as threads on 2 "nodes" (a directory each): saves steps 1..3, node 1's directory is
// deleted, and fresh objects (the restarted workers) restore step 3 everywhere.
TEST(MemorySnapshots, ANodesLossIsRestoredFromTheOtherNodesCopies) {
  ScratchDir root;
  const auto dir_of = [&](int rank) { return root.str() + "/node" + std::to_string(rank / 2); };
  std::vector<OwnedState> saved(4);
  OnRanks(4, [&](int rank, Communicator* comm) {
    MemorySnapshotOptions options{dir_of(rank), 1, rank / 2, "job"};
    auto snapshots = MemorySnapshots::Open(comm, options);
    ASSERT_TRUE(snapshots.ok()) << snapshots.status();
    EXPECT_EQ((*snapshots)->replica_nodes(), 1);
    for (int step = 1; step <= 3; ++step) {
      OwnedState state = MakeState(rank, 4, 4096, static_cast<std::uint64_t>(step), false);
      ASSERT_TRUE((*snapshots)->Save(step, state.state).ok());
      if (step == 3) saved[static_cast<std::size_t>(rank)] = std::move(state);
    }
  });
  // Two steps of each node's ranks and of their peers: 2 x 4 files per node.
  EXPECT_EQ(testing::DirEntries(dir_of(0)).size(), 8u);
  fs::remove_all(dir_of(2));
  std::atomic<int> restored{0};
  OnRanks(4, [&](int rank, Communicator* comm) {
    MemorySnapshotOptions options{dir_of(rank), 1, rank / 2, "job"};
    auto snapshots = MemorySnapshots::Open(comm, options);
    ASSERT_TRUE(snapshots.ok()) << snapshots.status();
    OwnedState into = MakeState(rank, 4, 4096, 3, true);
    auto loaded = (*snapshots)->LoadLatest(into.state, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_TRUE(loaded->has_value());
    EXPECT_EQ((*loaded)->step, 3);
    ExpectSameState(saved[static_cast<std::size_t>(rank)], into);
    ExpectSameRest(saved[static_cast<std::size_t>(rank)].state, **loaded);
    ++restored;
  });
  EXPECT_EQ(restored, 4);
}

TEST(MemorySnapshots, ADamagedSnapshotFallsBackToTheOlderStepAndDiskNewerWins) {
  ScratchDir root;
  const auto dir_of = [&](int rank) { return root.str() + "/node" + std::to_string(rank); };
  OnRanks(2, [&](int rank, Communicator* comm) {
    auto snapshots = MemorySnapshots::Open(comm, {dir_of(rank), 1, rank, ""});
    ASSERT_TRUE(snapshots.ok()) << snapshots.status();
    for (int step = 1; step <= 2; ++step) {
      OwnedState state = MakeState(rank, 2, 64, static_cast<std::uint64_t>(step), false);
      ASSERT_TRUE((*snapshots)->Save(step, state.state).ok());
    }
  });
  // Rank 1's step 2 damaged in both places that hold it.
  for (int node = 0; node < 2; ++node) {
    const std::string path = dir_of(node) + "/w2-rank-1-step-2.snap";
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(40);
    file.put('\x5a');
  }
  OnRanks(2, [&](int rank, Communicator* comm) {
    auto snapshots = MemorySnapshots::Open(comm, {dir_of(rank), 1, rank, ""});
    ASSERT_TRUE(snapshots.ok());
    OwnedState into = MakeState(rank, 2, 64, 1, true);
    auto loaded = (*snapshots)->LoadLatest(into.state, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_TRUE(loaded->has_value());
    EXPECT_EQ((*loaded)->step, 1);
    ExpectSameState(MakeState(rank, 2, 64, 1, false), into);
    // A disk checkpoint of step 1 or later: nothing newer in memory.
    OwnedState untouched = MakeState(rank, 2, 64, 1, true);
    auto none = (*snapshots)->LoadLatest(untouched.state, 1);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    ExpectSameState(MakeState(rank, 2, 64, 1, true), untouched);
  });
}

TEST(MemorySnapshots, ALostDirectoryCostsTheSnapshotNotTheStep) {
  ScratchDir root;
  const std::string dir = root / "node";
  auto snapshots = MemorySnapshots::Open(nullptr, {dir, 1, 0, ""});
  ASSERT_TRUE(snapshots.ok()) << snapshots.status();
  fs::remove_all(dir);
  OwnedState state = MakeState(0, 1, 8, 1, false);
  EXPECT_TRUE((*snapshots)->Save(1, state.state).ok());
  auto loaded = (*snapshots)->LoadLatest(state.state, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

TEST(MemorySnapshots, AStepUndoneByARestartFromOlderIsReplacedNotRestored) {
  ScratchDir root;
  const std::string dir = root / "node";
  {
    auto snapshots = MemorySnapshots::Open(nullptr, {dir, 0, 0, ""});
    ASSERT_TRUE(snapshots.ok());
    for (int step = 1; step <= 9; ++step) {
      ASSERT_TRUE((*snapshots)->Save(step, MakeState(0, 1, 8, 9, false).state).ok());
    }
  }
  // A restart that went back to step 2 (say, from disk) saves step 3 again: 8 and 9 go.
  auto snapshots = MemorySnapshots::Open(nullptr, {dir, 0, 0, ""});
  ASSERT_TRUE(snapshots.ok());
  ASSERT_TRUE((*snapshots)->Save(3, MakeState(0, 1, 8, 3, false).state).ok());
  OwnedState into = MakeState(0, 1, 8, 3, true);
  auto loaded = (*snapshots)->LoadLatest(into.state, 0);
  ASSERT_TRUE(loaded.ok() && loaded->has_value());
  EXPECT_EQ((*loaded)->step, 3);
}

TEST(MemorySnapshots, OptionsAreCheckedWithTheFieldNamed) {
  auto no_dir = MemorySnapshots::Open(nullptr, {"", 1, 0, ""});
  ASSERT_FALSE(no_dir.ok());
  EXPECT_NE(no_dir.status().message().find("dir"), std::string::npos);
  auto negative = MemorySnapshots::Open(nullptr, {"/tmp/x", -1, 0, ""});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("replicas"), std::string::npos);
}

}  // namespace
}  // namespace train
