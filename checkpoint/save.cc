#include "save.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <utility>

#include "commit.h"
#include "host_staging.h"
#include "rank_message.h"
#include "train/log.h"
#include "train/version.h"

namespace train::internal {
namespace {

using nlohmann::json;

// The message `rank` sent, which must be of `kind` or an error (returned as such).
Result<RankMessage> Expect(const std::string& text, int rank, RankMessage::Kind kind) {
  TRAIN_ASSIGN_OR_RETURN(RankMessage message, RankMessage::Decode(text, rank));
  if (message.kind == RankMessage::Kind::kError) return message.error;
  if (message.kind != kind) {
    return DataLossError("rank " + std::to_string(rank) +
                         " sent a checkpoint message of another step of the protocol");
  }
  return message;
}

Status CheckName(const std::string& name, const std::string& what) {
  bool bad = name.empty() || name.front() == '/' || name.back() == '/';
  for (std::size_t start = 0; !bad && start <= name.size();) {
    std::size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(start, end - start);
    bad = part.empty() || part == "." || part == "..";
    start = end + 1;
  }
  if (bad) {
    return InvalidArgumentError(what + " name '" + name +
                                "' is not a valid path: use non-empty parts separated by single "
                                "'/', without '.' or '..'");
  }
  return Status::Ok();
}

std::uint64_t Product(const std::vector<std::uint64_t>& shape) {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) n *= d;
  return n;
}

// A name may not also be the group of another ("a" and "a/b"): HDF5 refuses it when the file
// is built, which an async save does in the background, so it is caught before.
Status CheckNoNameIsAGroup(const std::set<std::string>& names, const std::string& what) {
  for (const std::string& name : names) {
    auto it = names.lower_bound(name + "/");
    if (it != names.end() && it->rfind(name + "/", 0) == 0) {
      return InvalidArgumentError(what + " name '" + name + "' is also the group of '" + *it +
                                  "'; rename one");
    }
  }
  return Status::Ok();
}

// What this rank can check alone.
Status CheckLocalState(const CheckpointState& state) {
  std::map<std::string, int> seen;
  for (const CheckpointTensor& tensor : state.tensors) {
    TRAIN_RETURN_IF_ERROR(CheckName(tensor.name, "tensor"));
    if (seen[tensor.name]++ > 0) {
      return InvalidArgumentError("tensor name '" + tensor.name + "' appears twice in the state");
    }
    if (tensor.data.numel > 0 && tensor.data.data == nullptr) {
      return InvalidArgumentError("tensor '" + tensor.name + "' has " +
                                  std::to_string(tensor.data.numel) + " elements but no data");
    }
    if (tensor.replicated && tensor.offset != 0) {
      return InvalidArgumentError("replicated tensor '" + tensor.name + "' has offset " +
                                  std::to_string(tensor.offset) +
                                  "; a replicated tensor is whole on every rank (offset 0)");
    }
    if (tensor.replicated && !tensor.shape.empty() && Product(tensor.shape) != tensor.data.numel) {
      return InvalidArgumentError(
          "tensor '" + tensor.name + "' has " + std::to_string(tensor.data.numel) +
          " elements but its shape holds " + std::to_string(Product(tensor.shape)));
    }
  }
  if (state.optimizer) {
    if (state.optimizer->names.size() != state.optimizer->buffers.size()) {
      return InvalidArgumentError("optimizer state has " +
                                  std::to_string(state.optimizer->names.size()) + " names but " +
                                  std::to_string(state.optimizer->buffers.size()) + " buffers");
    }
    for (const std::string& name : state.optimizer->names) {
      TRAIN_RETURN_IF_ERROR(CheckName(name, "optimizer buffer"));
    }
  }
  std::set<std::string> rng_names;
  for (const auto& [name, bytes] : state.rng) {
    TRAIN_RETURN_IF_ERROR(CheckName(name, "rng state"));
    rng_names.insert(name);
  }
  std::set<std::string> tensor_names;
  for (const CheckpointTensor& tensor : state.tensors) tensor_names.insert(tensor.name);
  TRAIN_RETURN_IF_ERROR(CheckNoNameIsAGroup(tensor_names, "tensor"));
  TRAIN_RETURN_IF_ERROR(CheckNoNameIsAGroup(rng_names, "rng state"));
  if (state.optimizer) {
    const std::set<std::string> names(state.optimizer->names.begin(), state.optimizer->names.end());
    TRAIN_RETURN_IF_ERROR(CheckNoNameIsAGroup(names, "optimizer buffer"));
  }
  return Status::Ok();
}

// Every rank's sharded pieces must tile [0, N) of one dtype; the global shape is the one given
// or [N]. Computed alike on every rank from the gathered descriptions.
Result<std::map<std::string, std::vector<std::uint64_t>>> ShardedShapes(
    const std::vector<json>& ranks) {
  struct Piece {
    std::uint64_t offset, count;
    int rank;
  };
  std::map<std::string, std::vector<Piece>> pieces;
  std::map<std::string, std::string> dtypes;
  std::map<std::string, std::vector<std::uint64_t>> given;
  for (int r = 0; r < static_cast<int>(ranks.size()); ++r) {
    for (const json& t : ranks[r].at("sharded")) {
      const std::string name = t.at("name").get<std::string>();
      const std::string dtype = t.at("dtype").get<std::string>();
      if (dtypes.count(name) && dtypes[name] != dtype) {
        return InvalidArgumentError("sharded tensor '" + name + "' is " + dtypes[name] +
                                    " on one rank and " + dtype + " on rank " + std::to_string(r));
      }
      dtypes[name] = dtype;
      const auto shape = t.at("shape").get<std::vector<std::uint64_t>>();
      if (!shape.empty()) given[name] = shape;
      pieces[name].push_back(
          {t.at("offset").get<std::uint64_t>(), t.at("count").get<std::uint64_t>(), r});
    }
  }
  std::map<std::string, std::vector<std::uint64_t>> shapes;
  for (auto& [name, list] : pieces) {
    std::sort(list.begin(), list.end(),
              [](const Piece& a, const Piece& b) { return a.offset < b.offset; });
    std::uint64_t end = 0;
    for (const Piece& piece : list) {
      if (piece.offset != end) {
        return InvalidArgumentError(
            "sharded tensor '" + name + "': rank " + std::to_string(piece.rank) +
            "'s range starts at element " + std::to_string(piece.offset) + " but the ranges " +
            "before it end at " + std::to_string(end) +
            "; the ranks' ranges must cover the tensor without gaps or overlaps");
      }
      end += piece.count;
    }
    auto it = given.find(name);
    if (it != given.end() && Product(it->second) != end) {
      return InvalidArgumentError("sharded tensor '" + name + "': the ranks hold " +
                                  std::to_string(end) + " elements but its shape holds " +
                                  std::to_string(Product(it->second)));
    }
    shapes[name] = it != given.end() ? it->second : std::vector<std::uint64_t>{end};
  }
  return shapes;
}

std::string RandomId() {
  std::random_device device;
  const std::uint64_t value = (std::uint64_t{device()} << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

using Item = SaveItem;

std::vector<Item> ItemsOfRank(const CheckpointState& state, int rank, int world,
                              const std::map<std::string, std::vector<std::uint64_t>>& sharded) {
  std::vector<Item> items;
  for (const CheckpointTensor& t : state.tensors) {
    if (t.replicated && WriterRank(t.name, world) != rank) continue;
    Item item{Item::Kind::kTensor, t.name,   kTensorGroup + t.name, t.data.dtype, {}, {},
              t.replicated,        t.offset, t.data.numel,          t.data};
    if (t.replicated) {
      item.global_shape = t.shape.empty() ? std::vector<std::uint64_t>{t.data.numel} : t.shape;
      item.dims = item.global_shape;
    } else {
      item.global_shape = sharded.at(t.name);
      item.dims = {t.data.numel};
    }
    items.push_back(std::move(item));
  }
  if (state.optimizer) {
    for (std::size_t i = 0; i < state.optimizer->names.size(); ++i) {
      const std::string& name = state.optimizer->names[i];
      if (WriterRank(kOptimizerGroup + name, world) != rank) continue;
      auto& buffer = state.optimizer->buffers[i];
      TensorView view{const_cast<std::byte*>(buffer.data()), DType::kUInt8, buffer.size()};
      items.push_back({Item::Kind::kOptimizer,
                       name,
                       kOptimizerGroup + name,
                       DType::kUInt8,
                       {buffer.size()},
                       {buffer.size()},
                       true,
                       0,
                       buffer.size(),
                       view});
    }
  }
  for (const auto& [name, bytes] : state.rng) {
    TensorView view{const_cast<char*>(bytes.data()), DType::kUInt8, bytes.size()};
    items.push_back({Item::Kind::kRng,
                     name,
                     kRngGroup + name,
                     DType::kUInt8,
                     {bytes.size()},
                     {bytes.size()},
                     true,
                     0,
                     bytes.size(),
                     view});
  }
  return items;
}

// Consecutive items whose bytes fit the budget (an item larger than it goes alone).
std::vector<std::vector<const Item*>> SplitIntoWaves(const std::vector<Item>& items,
                                                     std::uint64_t budget) {
  std::vector<std::vector<const Item*>> waves(1);
  std::uint64_t bytes = 0;
  for (const Item& item : items) {
    if (!waves.back().empty() && bytes + item.bytes() > budget) {
      waves.emplace_back();
      bytes = 0;
    }
    waves.back().push_back(&item);
    bytes += item.bytes();
  }
  return waves;
}

std::string FileName(int rank, std::size_t wave) {
  return "rank-" + std::to_string(rank) + (wave == 0 ? "" : "." + std::to_string(wave)) + ".h5";
}

// Copies the wave's elements into the arena (CUDA tensors into pinned memory) and points the
// items at the copies: once this returns the caller may change its tensors.
Status StageWave(std::vector<Item>& wave, SnapshotArena& arena, HostStaging& pinned) {
  std::uint64_t bytes = 0;
  for (const Item& item : wave) {
    if (item.view.device == Device::kCpu) bytes = SnapshotArena::Align(bytes) + item.bytes();
  }
  std::byte* memory = nullptr;
  if (bytes > 0) {
    TRAIN_ASSIGN_OR_RETURN(memory, arena.Reserve(bytes));
  }
  std::vector<SnapshotCopy> copies;
  std::uint64_t offset = 0;
  for (Item& item : wave) {
    if (item.bytes() == 0) continue;
    if (item.view.device != Device::kCpu) {
      TRAIN_ASSIGN_OR_RETURN(const void* host, pinned.HostPointer(item.view, item.name));
      item.view = TensorView{const_cast<void*>(host), item.view.dtype, item.view.numel};
      continue;
    }
    offset = SnapshotArena::Align(offset);
    copies.push_back({memory + offset, item.view.data, item.bytes()});
    item.view.data = memory + offset;
    offset += item.bytes();
  }
  SnapshotArena::CopyAll(copies);
  return Status::Ok();
}

// Builds a wave's image and records its pieces in `contribution`.
Result<Hdf5Image> BuildWave(const std::vector<const Item*>& wave, const std::string& file, int rank,
                            Manifest& contribution) {
  HostStaging staging;
  std::vector<DatasetToWrite> datasets;
  for (const Item* item : wave) {
    TRAIN_ASSIGN_OR_RETURN(const void* host, staging.HostPointer(item->view, item->name));
    DatasetToWrite dataset{item->dataset, item->dtype, item->dims, host, item->global_shape, {}};
    if (!item->replicated) dataset.offset_attribute = item->offset;
    datasets.push_back(std::move(dataset));
  }
  TRAIN_ASSIGN_OR_RETURN(Hdf5Image image, BuildHdf5Image(datasets, file));
  for (std::size_t i = 0; i < wave.size(); ++i) {
    const Item& item = *wave[i];
    const ManifestPiece piece{file, item.dataset, item.offset, item.count, image.data_offsets[i]};
    switch (item.kind) {
      case Item::Kind::kTensor:
        contribution.tensors.push_back(
            {item.name, item.dtype, item.global_shape, item.replicated, {piece}});
        break;
      case Item::Kind::kOptimizer:
        contribution.optimizer_buffers.push_back({item.name, piece});
        break;
      case Item::Kind::kRng:
        contribution.rng_by_rank[rank].push_back({item.name, piece});
        break;
    }
  }
  return image;
}

Status WriteImage(const SaveTarget& target, const std::string& temp_dir, const std::string& file,
                  const Hdf5Image& image, Manifest& contribution) {
  TRAIN_ASSIGN_OR_RETURN(
      std::uint32_t crc,
      target.files->WriteFile(temp_dir + "/" + file, image.bytes.data(), image.bytes.size()));
  contribution.files.push_back({file, image.bytes.size(), crc});
  return Status::Ok();
}

// Rank 0: one manifest from every rank's contribution.
Result<Manifest> MergeContributions(const PendingSave& save, const std::vector<RankMessage>& all) {
  Manifest manifest = save.header;
  std::map<std::string, ManifestTensor> tensors;
  std::map<std::string, ManifestBuffer> optimizer;
  for (std::size_t r = 0; r < all.size(); ++r) {
    TRAIN_ASSIGN_OR_RETURN(Manifest part,
                           ParseManifest(all[r].payload, "rank " + std::to_string(r) + "'s part"));
    for (ManifestFile& file : part.files) manifest.files.push_back(std::move(file));
    for (ManifestTensor& tensor : part.tensors) {
      auto [it, inserted] = tensors.emplace(tensor.name, tensor);
      if (!inserted) it->second.pieces.push_back(tensor.pieces.front());
    }
    for (ManifestBuffer& buffer : part.optimizer_buffers) optimizer[buffer.name] = buffer;
    for (auto& [rank, states] : part.rng_by_rank) manifest.rng_by_rank[rank] = states;
  }
  std::sort(manifest.files.begin(), manifest.files.end(),
            [](const ManifestFile& a, const ManifestFile& b) { return a.name < b.name; });
  for (auto& [name, tensor] : tensors) {
    std::sort(tensor.pieces.begin(), tensor.pieces.end(),
              [](const ManifestPiece& a, const ManifestPiece& b) { return a.offset < b.offset; });
    manifest.tensors.push_back(std::move(tensor));
  }
  for (const std::string& name : save.optimizer_order) {
    const auto buffer = optimizer.find(name);
    if (buffer == optimizer.end()) {
      return DataLossError("optimizer buffer '" + name + "' is in no rank's part of the manifest");
    }
    manifest.optimizer_buffers.push_back(buffer->second);
  }
  manifest.created = UtcNowIso8601();
  return manifest;
}

// Every rank's view of the save (its step, its error, its sharded tensors), checked against
// this rank's; gives the global shape of each sharded tensor. A view that does not parse is
// DATA_LOSS, never an exception.
Result<std::map<std::string, std::vector<std::uint64_t>>> AgreeOnViews(
    const std::vector<std::string>& texts, int my_rank, std::int64_t step,
    const Status& local_check) {
  try {
    std::vector<json> ranks;
    for (const std::string& text : texts) ranks.push_back(json::parse(text));
    for (int r = 0; r < static_cast<int>(ranks.size()); ++r) {
      const std::string error = ranks[r].at("error").get<std::string>();
      if (!error.empty()) {
        if (r == my_rank) return local_check;
        return Expect(error, r, RankMessage::Kind::kError).status();
      }
      const auto theirs = ranks[r].at("step").get<std::int64_t>();
      if (theirs != step) {
        return InvalidArgumentError("Save is collective: rank " + std::to_string(r) +
                                    " saves step " + std::to_string(theirs) + " while rank " +
                                    std::to_string(my_rank) + " saves " + std::to_string(step));
      }
    }
    return ShardedShapes(ranks);
  } catch (const json::exception& e) {
    return DataLossError(std::string("a rank's view of the checkpoint save is garbled: ") +
                         e.what());
  }
}

}  // namespace

int WriterRank(const std::string& key, int world_size) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : key) hash = (hash ^ c) * 0x100000001b3ULL;
  return static_cast<int>(hash % static_cast<std::uint64_t>(world_size));
}

Result<PendingSave> StartSave(RankGroup& group, const SaveTarget& target, std::int64_t step,
                              std::int64_t newest_started, const CheckpointState& state) {
  // 1. Every rank's view of the save, so that all reach the same verdict.
  const Status local_check = CheckLocalState(state);
  json mine = {{"step", step},
               {"error", local_check.ok() ? "" : RankMessage::Error(local_check).Encode()}};
  mine["sharded"] = json::array();
  for (const CheckpointTensor& t : state.tensors) {
    if (t.replicated) continue;
    mine["sharded"].push_back({{"name", t.name},
                               {"dtype", std::string(DTypeName(t.data.dtype))},
                               {"offset", t.offset},
                               {"count", t.data.numel},
                               {"shape", t.shape}});
  }
  TRAIN_ASSIGN_OR_RETURN(std::vector<std::string> texts, group.AllGather(mine.dump()));
  TRAIN_ASSIGN_OR_RETURN(auto sharded_shapes, AgreeOnViews(texts, group.rank(), step, local_check));

  // 2. Rank 0 checks the step against what is committed and creates the temporary directory.
  std::string verdict;
  Status root_status;  // rank 0's own verdict, with its message as is
  if (group.rank() == 0) {
    Status& status = root_status;
    if (step < 0)
      status = InvalidArgumentError("checkpoint step " + std::to_string(step) + " is negative");
    Result<std::vector<std::int64_t>> committed = CommittedSteps(*target.files, target.dir);
    if (status.ok() && !committed.ok()) status = committed.status();
    if (status.ok()) {
      const std::int64_t newest =
          std::max(newest_started, committed->empty() ? -1 : committed->front());
      if (step <= newest) {
        status = InvalidArgumentError(
            "checkpoint step " + std::to_string(step) + " is not greater than the newest step " +
            std::to_string(newest) + " in " + target.dir +
            "; save with a larger step (checkpoints are never overwritten)");
      }
    }
    const std::string id = RandomId();
    if (status.ok()) status = target.files->CreateDirs(target.dir + "/" + TempDirName(step, id));
    verdict = (status.ok() ? RankMessage::Ok(id) : RankMessage::Error(status)).Encode();
  }
  TRAIN_ASSIGN_OR_RETURN(verdict, group.BroadcastFromRoot(verdict));
  Result<RankMessage> decided = Expect(verdict, 0, RankMessage::Kind::kOk);
  if (!decided.ok()) return group.rank() == 0 && !root_status.ok() ? root_status : decided.status();

  PendingSave save;
  save.step = step;
  save.temp_dir = target.dir + "/" + TempDirName(step, decided->payload);
  Manifest& header = save.header;
  header.step = step;
  header.job_id = target.options.job_id;
  header.world_size = group.size();
  header.library_version = std::string(LibraryVersion());
  header.sampler = state.sampler;
  header.metadata = state.metadata;
  if (state.optimizer) {
    header.optimizer_step = state.optimizer->step;
    save.contribution.optimizer_step = state.optimizer->step;  // so its buffers are serialized
    save.optimizer_order = state.optimizer->names;
  }

  // 3. Every wave but the last is written now, bounding the memory held; the last is copied
  // into the snapshot memory (async) or left in the caller's (sync) for FinishSave.
  save.local = CatchAsStatus([&]() -> Status {
    const std::vector<Item> items = ItemsOfRank(state, group.rank(), group.size(), sharded_shapes);
    const auto waves =
        SplitIntoWaves(items, std::max<std::uint64_t>(target.options.memory_budget_bytes, 1));
    for (std::size_t w = 0; w + 1 < waves.size(); ++w) {
      const std::string file = FileName(group.rank(), w);
      TRAIN_ASSIGN_OR_RETURN(Hdf5Image image,
                             BuildWave(waves[w], file, group.rank(), save.contribution));
      TRAIN_RETURN_IF_ERROR(WriteImage(target, save.temp_dir, file, image, save.contribution));
    }
    // A rank with nothing to write still writes an empty file.
    save.last_file = FileName(group.rank(), waves.size() - 1);
    for (const Item* item : waves.back()) save.last_wave.push_back(*item);
    if (target.arena == nullptr) return Status::Ok();
    save.last_pinned = std::make_unique<HostStaging>();
    return StageWave(save.last_wave, *target.arena, *save.last_pinned);
  });
  return save;
}

Status FinishSave(RankGroup& group, const SaveTarget& target, PendingSave& save) {
  std::string part;
  save.local = CatchAsStatus([&]() -> Status {
    if (save.local.ok() && !save.last_file.empty()) {
      std::vector<const Item*> wave;
      for (const Item& item : save.last_wave) wave.push_back(&item);
      TRAIN_ASSIGN_OR_RETURN(Hdf5Image image,
                             BuildWave(wave, save.last_file, group.rank(), save.contribution));
      TRAIN_RETURN_IF_ERROR(
          WriteImage(target, save.temp_dir, save.last_file, image, save.contribution));
    }
    if (save.local.ok())
      part = RankMessage::ManifestPart(ManifestToJson(save.contribution)).Encode();
    return save.local;
  });
  save.last_pinned.reset();  // the pinned copies go back now; the arena stays for the next save
  if (!save.local.ok()) part = RankMessage::Error(save.local).Encode();
  Result<std::vector<std::string>> all = group.AllGather(part);
  if (!all.ok()) {
    if (group.rank() == 0) static_cast<void>(target.files->RemoveAll(save.temp_dir));
    return all.status();
  }
  Status failure;
  std::vector<RankMessage> parts;
  for (int r = 0; r < group.size() && failure.ok(); ++r) {
    Result<RankMessage> message = Expect((*all)[r], r, RankMessage::Kind::kManifest);
    if (message.ok()) parts.push_back(std::move(*message));
    failure = r == group.rank() && !save.local.ok() ? save.local : message.status();
  }
  std::string verdict;
  if (group.rank() == 0) {
    Status status = failure;
    if (status.ok()) {
      Result<Manifest> manifest = MergeContributions(save, parts);
      status = manifest.ok() ? CommitStep(*target.files, target.dir, save.temp_dir, save.step,
                                          ManifestToJson(*manifest))
                             : manifest.status();
      if (status.ok()) {
        const Status retention =
            ApplyRetention(*target.files, target.dir, save.step, target.options);
        if (!retention.ok()) LogWarning("checkpoint retention: " + retention.ToString());
      }
    }
    if (!status.ok()) static_cast<void>(target.files->RemoveAll(save.temp_dir));
    if (!failure.ok()) return failure;
    verdict = (status.ok() ? RankMessage::Ok() : RankMessage::Error(status)).Encode();
    if (!status.ok()) {
      TRAIN_RETURN_IF_ERROR(group.BroadcastFromRoot(verdict).status());
      return status.WithContext("committing checkpoint step " + std::to_string(save.step));
    }
  } else if (!failure.ok()) {
    return failure;
  }
  TRAIN_ASSIGN_OR_RETURN(verdict, group.BroadcastFromRoot(verdict));
  return Expect(verdict, 0, RankMessage::Kind::kOk).status();
}

}  // namespace train::internal
