#include "snapshot_blob.h"

#include <cstring>
#include <map>

#include "crc32c.h"
#include "host_staging.h"

namespace train::internal {
namespace {

constexpr char kMagic[8] = {'T', 'R', 'N', 'S', 'N', 'A', 'P', '1'};
// Sizes are native little-endian: snapshots move between the nodes of one job only.
constexpr std::size_t kChecksumBytes = sizeof(std::uint32_t);
// Names and strings longer than this are damage, not data.
constexpr std::uint64_t kMaxStringBytes = std::uint64_t{1} << 24;

class BlobWriter {
 public:
  BlobWriter(std::vector<std::byte>& out, std::size_t expected) : out_(out) {
    out_.clear();
    out_.reserve(expected);
  }
  void Bytes(const void* data, std::size_t size) {
    const auto* begin = static_cast<const std::byte*>(data);
    out_.insert(out_.end(), begin, begin + size);
  }
  template <typename T>
  void Number(T value) {
    Bytes(&value, sizeof(value));
  }
  void String(const std::string& text) {
    Number<std::uint64_t>(text.size());
    Bytes(text.data(), text.size());
  }
  void Finish() { Number<std::uint32_t>(Crc32c(out_.data(), out_.size())); }

 private:
  std::vector<std::byte>& out_;
};

// Bytes of everything but names and strings, plus room for those.
std::size_t ExpectedSize(const CheckpointState& state) {
  std::size_t bytes = 4096;
  for (const CheckpointTensor& tensor : state.tensors) bytes += tensor.data.bytes() + 64;
  if (state.optimizer) {
    for (const auto& buffer : state.optimizer->buffers) bytes += buffer.size() + 64;
  }
  return bytes;
}

class BlobReader {
 public:
  BlobReader(const std::byte* data, std::size_t size) : data_(data), size_(size) {}

  Status Bytes(void* out, std::size_t size, const char* field) {
    TRAIN_RETURN_IF_ERROR(Need(size, field));
    std::memcpy(out, data_ + at_, size);
    at_ += size;
    return Status::Ok();
  }
  template <typename T>
  Status Number(T& out, const char* field) {
    return Bytes(&out, sizeof(out), field);
  }
  Status String(std::string& out, const char* field) {
    std::uint64_t size = 0;
    TRAIN_RETURN_IF_ERROR(Number(size, field));
    if (size > kMaxStringBytes) return Damaged(field, "a length of " + std::to_string(size));
    TRAIN_RETURN_IF_ERROR(Need(size, field));
    out.assign(reinterpret_cast<const char*>(data_ + at_), size);
    at_ += size;
    return Status::Ok();
  }
  // `size` bytes left in place; returns where they start.
  Result<const std::byte*> Span(std::uint64_t size, const char* field) {
    TRAIN_RETURN_IF_ERROR(Need(size, field));
    const std::byte* start = data_ + at_;
    at_ += size;
    return start;
  }
  // A count of items of at least `min_item_bytes` each, bounded by what is left.
  Result<std::uint64_t> Count(const char* field, std::uint64_t min_item_bytes) {
    std::uint64_t count = 0;
    TRAIN_RETURN_IF_ERROR(Number(count, field));
    if (count > (size_ - at_) / min_item_bytes) {
      return Damaged(field, "a count of " + std::to_string(count));
    }
    return count;
  }
  bool AtEnd() const { return at_ == size_; }

  static Status Damaged(const char* field, const std::string& what) {
    return DataLossError(std::string("memory snapshot: ") + field + " holds " + what +
                         ", more than the snapshot has");
  }

 private:
  Status Need(std::uint64_t size, const char* field) const {
    if (size > size_ - at_) return Damaged(field, std::to_string(size) + " bytes");
    return Status::Ok();
  }

  const std::byte* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

Status Mismatch(const std::string& what) {
  return FailedPreconditionError("memory snapshot does not match the state to restore: " + what);
}

Result<DecodedSnapshot> Parse(BlobReader& in) {
  DecodedSnapshot out;
  char magic[sizeof(kMagic)];
  TRAIN_RETURN_IF_ERROR(in.Bytes(magic, sizeof(magic), "the magic"));
  if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return DataLossError("not a memory snapshot (its first bytes are not TRNSNAP1)");
  }
  std::int32_t rank = 0, world = 0;
  TRAIN_RETURN_IF_ERROR(in.Number(out.header.step, "the step"));
  TRAIN_RETURN_IF_ERROR(in.Number(rank, "the rank"));
  TRAIN_RETURN_IF_ERROR(in.Number(world, "the world size"));
  TRAIN_RETURN_IF_ERROR(in.String(out.header.job_id, "the job id"));
  out.header.rank = rank;
  out.header.world_size = world;

  TRAIN_ASSIGN_OR_RETURN(const std::uint64_t tensors, in.Count("the tensor count", 25));
  for (std::uint64_t i = 0; i < tensors; ++i) {
    DecodedSnapshot::Tensor tensor;
    std::uint8_t dtype = 0;
    TRAIN_RETURN_IF_ERROR(in.String(tensor.name, "a tensor's name"));
    TRAIN_RETURN_IF_ERROR(in.Number(dtype, "a tensor's dtype"));
    if (dtype > static_cast<std::uint8_t>(DType::kInt64)) {
      return DataLossError("memory snapshot: tensor " + tensor.name + " has dtype number " +
                           std::to_string(dtype) + ", which is none");
    }
    tensor.dtype = static_cast<DType>(dtype);
    TRAIN_RETURN_IF_ERROR(in.Number(tensor.numel, "a tensor's element count"));
    TRAIN_RETURN_IF_ERROR(in.Number(tensor.offset, "a tensor's offset"));
    const std::uint64_t element = DTypeSize(tensor.dtype);
    if (tensor.numel > UINT64_MAX / element) {
      return BlobReader::Damaged("a tensor's element count", std::to_string(tensor.numel));
    }
    TRAIN_ASSIGN_OR_RETURN(tensor.bytes, in.Span(tensor.numel * element, "a tensor's bytes"));
    out.tensors.push_back(std::move(tensor));
  }

  std::uint8_t has_optimizer = 0;
  TRAIN_RETURN_IF_ERROR(in.Number(has_optimizer, "the optimizer flag"));
  if (has_optimizer != 0) {
    OptimizerState optimizer;
    TRAIN_RETURN_IF_ERROR(in.Number(optimizer.step, "the optimizer's step"));
    TRAIN_ASSIGN_OR_RETURN(const std::uint64_t buffers,
                           in.Count("the optimizer's buffer count", 16));
    for (std::uint64_t i = 0; i < buffers; ++i) {
      std::string name, bytes;
      TRAIN_RETURN_IF_ERROR(in.String(name, "an optimizer buffer's name"));
      std::uint64_t size = 0;
      TRAIN_RETURN_IF_ERROR(in.Number(size, "an optimizer buffer's size"));
      TRAIN_ASSIGN_OR_RETURN(const std::byte* data, in.Span(size, "an optimizer buffer"));
      optimizer.names.push_back(std::move(name));
      optimizer.buffers.emplace_back(data, data + size);
    }
    out.rest.optimizer = std::move(optimizer);
  }
  std::uint8_t has_sampler = 0;
  TRAIN_RETURN_IF_ERROR(in.Number(has_sampler, "the sampler flag"));
  if (has_sampler != 0) {
    SamplerState sampler;
    TRAIN_RETURN_IF_ERROR(in.Number(sampler.epoch, "the sampler's epoch"));
    TRAIN_RETURN_IF_ERROR(in.Number(sampler.cursor, "the sampler's cursor"));
    out.rest.sampler = sampler;
  }
  for (auto* map : {&out.rest.rng, &out.rest.metadata}) {
    TRAIN_ASSIGN_OR_RETURN(const std::uint64_t entries, in.Count("a map's size", 16));
    for (std::uint64_t i = 0; i < entries; ++i) {
      std::string key, value;
      TRAIN_RETURN_IF_ERROR(in.String(key, "a key"));
      TRAIN_RETURN_IF_ERROR(in.String(value, "a value"));
      (*map)[std::move(key)] = std::move(value);
    }
  }
  if (!in.AtEnd()) return DataLossError("memory snapshot: bytes follow its last field");
  out.rest.step = out.header.step;
  out.rest.world_size = out.header.world_size;
  return out;
}

}  // namespace

Result<std::vector<std::byte>> EncodeSnapshot(const SnapshotHeader& header,
                                              const CheckpointState& state) {
  std::vector<std::byte> blob;
  TRAIN_RETURN_IF_ERROR(EncodeSnapshot(header, state, blob));
  return blob;
}

Status EncodeSnapshot(const SnapshotHeader& header, const CheckpointState& state,
                      std::vector<std::byte>& blob) {
  BlobWriter out(blob, ExpectedSize(state));
  out.Bytes(kMagic, sizeof(kMagic));
  out.Number<std::int64_t>(header.step);
  out.Number<std::int32_t>(header.rank);
  out.Number<std::int32_t>(header.world_size);
  out.String(header.job_id);
  out.Number<std::uint64_t>(state.tensors.size());
  HostStaging staging;
  for (const CheckpointTensor& tensor : state.tensors) {
    out.String(tensor.name);
    out.Number<std::uint8_t>(static_cast<std::uint8_t>(tensor.data.dtype));
    out.Number<std::uint64_t>(tensor.data.numel);
    out.Number<std::uint64_t>(tensor.replicated ? 0 : tensor.offset);
    TRAIN_ASSIGN_OR_RETURN(const void* host, staging.HostPointer(tensor.data, tensor.name));
    out.Bytes(host, tensor.data.bytes());
  }
  out.Number<std::uint8_t>(state.optimizer ? 1 : 0);
  if (state.optimizer) {
    out.Number<std::int64_t>(state.optimizer->step);
    out.Number<std::uint64_t>(state.optimizer->buffers.size());
    for (std::size_t i = 0; i < state.optimizer->buffers.size(); ++i) {
      out.String(i < state.optimizer->names.size() ? state.optimizer->names[i] : "");
      out.Number<std::uint64_t>(state.optimizer->buffers[i].size());
      out.Bytes(state.optimizer->buffers[i].data(), state.optimizer->buffers[i].size());
    }
  }
  out.Number<std::uint8_t>(state.sampler ? 1 : 0);
  if (state.sampler) {
    out.Number<std::uint64_t>(state.sampler->epoch);
    out.Number<std::uint64_t>(state.sampler->cursor);
  }
  for (const auto* map : {&state.rng, &state.metadata}) {
    out.Number<std::uint64_t>(map->size());
    for (const auto& [key, value] : *map) {
      out.String(key);
      out.String(value);
    }
  }
  out.Finish();
  return Status::Ok();
}

Result<DecodedSnapshot> DecodeSnapshot(const std::vector<std::byte>& blob,
                                       const SnapshotHeader& expected,
                                       const CheckpointState& into) {
  if (blob.size() < kChecksumBytes) return DataLossError("memory snapshot: empty");
  const std::size_t body = blob.size() - kChecksumBytes;
  std::uint32_t checksum = 0;
  std::memcpy(&checksum, blob.data() + body, sizeof(checksum));
  if (Crc32c(blob.data(), body) != checksum) {
    return DataLossError("memory snapshot: its checksum does not match its bytes (damaged)");
  }
  BlobReader in(blob.data(), body);
  TRAIN_ASSIGN_OR_RETURN(DecodedSnapshot decoded, Parse(in));
  const SnapshotHeader& got = decoded.header;
  if (got.rank != expected.rank || got.world_size != expected.world_size ||
      got.step != expected.step) {
    return Mismatch(
        "it is rank " + std::to_string(got.rank) + " of " + std::to_string(got.world_size) +
        " at step " + std::to_string(got.step) + ", not rank " + std::to_string(expected.rank) +
        " of " + std::to_string(expected.world_size) + " at step " + std::to_string(expected.step));
  }
  if (!expected.job_id.empty() && got.job_id != expected.job_id) {
    return Mismatch("it is job " + got.job_id + "'s, not " + expected.job_id + "'s");
  }
  std::map<std::string, const DecodedSnapshot::Tensor*> by_name;
  for (const auto& tensor : decoded.tensors) by_name[tensor.name] = &tensor;
  if (by_name.size() != into.tensors.size()) {
    return Mismatch("it holds " + std::to_string(by_name.size()) + " tensors, the state " +
                    std::to_string(into.tensors.size()));
  }
  for (const CheckpointTensor& want : into.tensors) {
    auto found = by_name.find(want.name);
    if (found == by_name.end()) return Mismatch("it has no tensor " + want.name);
    const DecodedSnapshot::Tensor& got_tensor = *found->second;
    const std::uint64_t offset = want.replicated ? 0 : want.offset;
    if (got_tensor.dtype != want.data.dtype || got_tensor.numel != want.data.numel ||
        got_tensor.offset != offset) {
      return Mismatch("tensor " + want.name + " has another dtype, size or offset");
    }
  }
  return decoded;
}

Status ApplySnapshot(const DecodedSnapshot& decoded, CheckpointState& into) {
  std::map<std::string, const DecodedSnapshot::Tensor*> by_name;
  for (const auto& tensor : decoded.tensors) by_name[tensor.name] = &tensor;
  for (CheckpointTensor& tensor : into.tensors) {
    auto found = by_name.find(tensor.name);
    if (found == by_name.end()) return Mismatch("it has no tensor " + tensor.name);
    TRAIN_RETURN_IF_ERROR(HostStaging::CopyToView(found->second->bytes, tensor.data, tensor.name));
  }
  return Status::Ok();
}

}  // namespace train::internal
