#include "snapshot_plan.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "train/communicator.h"

namespace train::internal {
namespace {

constexpr std::size_t kFieldsPerFile = 4;  // world size, rank, step, bytes

// Every rank's vector of int64, padded to the longest (two all-gathers).
Result<std::vector<std::vector<std::int64_t>>> GatherVectors(Communicator* comm,
                                                             std::vector<std::int64_t> mine) {
  if (comm == nullptr) return std::vector<std::vector<std::int64_t>>{mine};
  const auto world = static_cast<std::size_t>(comm->world_size());
  std::int64_t length = static_cast<std::int64_t>(mine.size());
  std::vector<std::int64_t> lengths(world);
  TRAIN_RETURN_IF_ERROR(comm->AllGather(TensorView{&length, DType::kInt64, 1},
                                        TensorView{lengths.data(), DType::kInt64, world})
                            ->Wait());
  const auto widest = static_cast<std::size_t>(
      std::max<std::int64_t>(1, *std::max_element(lengths.begin(), lengths.end())));
  mine.resize(widest, 0);
  std::vector<std::int64_t> all(widest * world);
  TRAIN_RETURN_IF_ERROR(comm->AllGather(TensorView{mine.data(), DType::kInt64, widest},
                                        TensorView{all.data(), DType::kInt64, all.size()})
                            ->Wait());
  std::vector<std::vector<std::int64_t>> out;
  for (std::size_t r = 0; r < world; ++r) {
    const auto begin = all.begin() + static_cast<std::ptrdiff_t>(r * widest);
    out.emplace_back(begin, begin + lengths[r]);
  }
  return out;
}

}  // namespace

ReplicaLayout ReplicaLayout::Compute(const std::vector<std::int64_t>& node_of_rank, int rank,
                                     int replicas) {
  ReplicaLayout layout;
  layout.rank = rank;
  layout.world_size = static_cast<int>(node_of_rank.size());
  std::vector<std::int64_t> nodes = node_of_rank;
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  layout.nodes = static_cast<int>(nodes.size());
  auto position = [&](int r) {
    return static_cast<int>(std::lower_bound(nodes.begin(), nodes.end(), node_of_rank[r]) -
                            nodes.begin());
  };
  std::vector<int> local_index(node_of_rank.size());
  std::map<std::int64_t, int> seen;
  int locals = 1;
  for (std::size_t r = 0; r < node_of_rank.size(); ++r) {
    local_index[r] = seen[node_of_rank[r]]++;
    locals = std::max(locals, local_index[r] + 1);
  }
  layout.first_on_node = local_index[rank] == 0;
  const bool grouped = replicas > 0 && layout.nodes > 1;
  const int per_group = replicas + 1;
  const int groups = std::max(1, layout.nodes / per_group);
  auto color = [&](int r) {
    if (!grouped) return -1;
    return std::min(position(r) / per_group, groups - 1) * locals + local_index[r];
  };
  layout.group_color = color(rank);
  layout.group_key = position(rank);
  std::vector<std::tuple<int, int>> members;  // (key, rank): the split's order
  for (int r = 0; r < layout.world_size; ++r) {
    if (layout.group_color >= 0 && color(r) == layout.group_color) {
      members.emplace_back(position(r), r);
    }
  }
  std::sort(members.begin(), members.end());
  for (const auto& member : members) layout.group_ranks.push_back(std::get<1>(member));
  if (layout.group_ranks.empty()) layout.group_ranks.push_back(rank);
  for (int r = 0; r < layout.world_size; ++r) {
    if (node_of_rank[r] != node_of_rank[rank]) continue;
    layout.kept_on_node.insert(r);
    for (int peer = 0; peer < layout.world_size && color(r) >= 0; ++peer) {
      if (color(peer) == color(r)) layout.kept_on_node.insert(peer);
    }
  }
  return layout;
}

Result<ReplicaLayout> ReplicaLayout::Gather(Communicator* comm, int node, int replicas) {
  TRAIN_ASSIGN_OR_RETURN(auto nodes, GatherVectors(comm, {node}));
  std::vector<std::int64_t> node_of_rank;
  for (const auto& one : nodes) node_of_rank.push_back(one.empty() ? 0 : one[0]);
  return Compute(node_of_rank, comm != nullptr ? comm->rank() : 0, replicas);
}

Result<std::vector<std::vector<SnapshotFile>>> GatherInventory(
    Communicator* comm, const std::vector<SnapshotFile>& held) {
  std::vector<std::int64_t> mine;
  for (const SnapshotFile& file : held) {
    mine.insert(mine.end(),
                {file.world_size, file.rank, file.step, static_cast<std::int64_t>(file.bytes)});
  }
  TRAIN_ASSIGN_OR_RETURN(auto all, GatherVectors(comm, std::move(mine)));
  std::vector<std::vector<SnapshotFile>> inventory;
  for (const auto& fields : all) {
    std::vector<SnapshotFile> files;
    for (std::size_t i = 0; i + kFieldsPerFile <= fields.size(); i += kFieldsPerFile) {
      files.push_back(SnapshotFile{static_cast<int>(fields[i]), static_cast<int>(fields[i + 1]),
                                   fields[i + 2], static_cast<std::uint64_t>(fields[i + 3])});
    }
    inventory.push_back(std::move(files));
  }
  return inventory;
}

std::vector<RestorePlan> PlanRestores(const std::vector<std::vector<SnapshotFile>>& inventory,
                                      int world_size, std::size_t limit) {
  // step -> owner -> holders that have it, lowest first (ranks are visited in order).
  std::map<std::int64_t, std::map<int, std::vector<std::pair<int, SnapshotFile>>>, std::greater<>>
      by_step;
  for (std::size_t holder = 0; holder < inventory.size(); ++holder) {
    for (const SnapshotFile& file : inventory[holder]) {
      if (file.world_size != world_size || file.rank < 0 || file.rank >= world_size) continue;
      by_step[file.step][file.rank].emplace_back(static_cast<int>(holder), file);
    }
  }
  std::vector<RestorePlan> plans;
  for (const auto& [step, owners] : by_step) {
    if (plans.size() >= limit) break;
    if (static_cast<int>(owners.size()) != world_size) continue;
    RestorePlan plan;
    plan.step = step;
    for (const auto& [owner, holders] : owners) {
      auto chosen = holders.front();
      for (const auto& holder : holders) {
        if (holder.first == owner) chosen = holder;
      }
      plan.transfers.push_back(Transfer{chosen.second, chosen.first});
      if (chosen.first != owner) ++plan.from_peers;
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace train::internal
