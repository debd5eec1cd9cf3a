#include "nccl/nccl_unique_id.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "nccl/nccl_status.h"

namespace train::internal {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Result<ncclUniqueId> NewUniqueId() {
  ncclUniqueId id;
  TRAIN_NCCL_RETURN_IF_ERROR(ncclGetUniqueId(&id), nullptr);
  return id;
}

Milliseconds Remaining(Deadline deadline) {
  const auto left =
      std::chrono::duration_cast<Milliseconds>(deadline - std::chrono::steady_clock::now());
  return std::max(left, Milliseconds(1));
}

Result<ncclUniqueId> ThroughBootstrap(const BackendArgs& args, Deadline deadline) {
  Communicator& bootstrap = *args.bootstrap;
  if (bootstrap.rank() != args.rank || bootstrap.world_size() != args.world_size) {
    return InvalidArgumentError(
        "the bootstrap communicator is rank " + std::to_string(bootstrap.rank()) + " of " +
        std::to_string(bootstrap.world_size()) + " but the NCCL communicator is to be rank " +
        std::to_string(args.rank) + " of " + std::to_string(args.world_size));
  }
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (args.rank == 0) {
    TRAIN_ASSIGN_OR_RETURN(id, NewUniqueId());
  }
  TensorView bytes{&id, DType::kUInt8, sizeof(id), Device::kCpu, 0};
  OpOptions options;
  options.timeout = Remaining(deadline);
  TRAIN_RETURN_IF_ERROR(bootstrap.Broadcast(bytes, 0, options)
                            ->Wait()
                            .WithContext("broadcasting the NCCL unique id from rank 0"));
  return id;
}

Result<ncclUniqueId> ThroughStore(const BackendArgs& args, Deadline deadline) {
  Store& store = *args.store;
  const std::string& name = args.options.name;
  TRAIN_ASSIGN_OR_RETURN(const std::int64_t generation,
                         store.Add(name + "/nccl-created/" + std::to_string(args.rank), 1));
  const std::string key = name + "/nccl-id/" + std::to_string(generation);
  if (args.rank == 0) {
    TRAIN_ASSIGN_OR_RETURN(const ncclUniqueId id, NewUniqueId());
    TRAIN_RETURN_IF_ERROR(
        store.Set(key, EncodeUniqueId(id)).WithContext("publishing the NCCL unique id"));
    return id;
  }
  Result<std::string> text = store.Get(key, Remaining(deadline));
  if (!text.ok()) {
    return text.status().WithContext("rank " + std::to_string(args.rank) +
                                     " waited for rank 0 to publish the NCCL unique id (" + key +
                                     ")");
  }
  return DecodeUniqueId(*text);
}

}  // namespace

std::string EncodeUniqueId(const ncclUniqueId& id) {
  std::string text;
  text.reserve(2 * sizeof(id.internal));
  for (const char byte : id.internal) {
    const auto value = static_cast<unsigned char>(byte);
    text += kHexDigits[value >> 4];
    text += kHexDigits[value & 0xf];
  }
  return text;
}

Result<ncclUniqueId> DecodeUniqueId(const std::string& text) {
  ncclUniqueId id;
  if (text.size() != 2 * sizeof(id.internal)) {
    return InvalidArgumentError("an NCCL unique id is " + std::to_string(2 * sizeof(id.internal)) +
                                " hex digits; got " + std::to_string(text.size()) + " characters");
  }
  for (std::size_t i = 0; i < sizeof(id.internal); ++i) {
    const int high = HexValue(text[2 * i]);
    const int low = HexValue(text[2 * i + 1]);
    if (high < 0 || low < 0) {
      return InvalidArgumentError("an NCCL unique id holds a non-hex character at offset " +
                                  std::to_string(high < 0 ? 2 * i : 2 * i + 1));
    }
    id.internal[i] = static_cast<char>(high << 4 | low);
  }
  return id;
}

Result<ncclUniqueId> ExchangeUniqueId(const BackendArgs& args, Deadline deadline) {
  if (args.bootstrap != nullptr) return ThroughBootstrap(args, deadline);
  if (args.store != nullptr) return ThroughStore(args, deadline);
  if (args.world_size == 1) return NewUniqueId();
  return FailedPreconditionError(
      "the NCCL communicator of " + std::to_string(args.world_size) +
      " ranks needs a store (or mpirun) for its ranks to agree on an NCCL unique id");
}

}  // namespace train::internal
