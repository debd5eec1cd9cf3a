#include "common/op.h"

#include <sstream>

namespace train::internal {
namespace {

bool ParseKind(const std::string& name, CollectiveKind* kind) {
  for (CollectiveKind k :
       {CollectiveKind::kAllReduce, CollectiveKind::kReduceScatter, CollectiveKind::kAllGather,
        CollectiveKind::kBroadcast, CollectiveKind::kBarrier}) {
    if (CollectiveKindName(k) == name) {
      *kind = k;
      return true;
    }
  }
  return false;
}

bool ParseReduce(const std::string& name, ReduceOp* op) {
  for (ReduceOp r :
       {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMin, ReduceOp::kMax, ReduceOp::kProd}) {
    if (ReduceOpName(r) == name) {
      *op = r;
      return true;
    }
  }
  return false;
}

bool HasReduction(CollectiveKind kind) {
  return kind == CollectiveKind::kAllReduce || kind == CollectiveKind::kReduceScatter;
}

}  // namespace

std::string OpRecord::Describe() const {
  std::ostringstream out;
  out << CollectiveKindName(kind) << " #" << seq;
  if (kind == CollectiveKind::kBarrier) return out.str();
  out << " (";
  if (HasReduction(kind)) out << ReduceOpName(reduce) << ", ";
  if (kind == CollectiveKind::kBroadcast) out << "root " << root << ", ";
  out << DTypeName(dtype) << " x " << count << ")";
  return out.str();
}

std::string OpRecord::Encode() const {
  std::ostringstream out;
  out << CollectiveKindName(kind) << ' ' << seq << ' ' << ReduceOpName(reduce) << ' '
      << DTypeName(dtype) << ' ' << count << ' ' << root;
  return out.str();
}

bool OpRecord::Decode(const std::string& text, OpRecord* out) {
  std::istringstream in(text);
  std::string kind, reduce, dtype;
  OpRecord record;
  if (!(in >> kind >> record.seq >> reduce >> dtype >> record.count >> record.root)) {
    return false;
  }
  auto parsed = ParseDType(dtype);
  if (!parsed.ok() || !ParseKind(kind, &record.kind) || !ParseReduce(reduce, &record.reduce)) {
    return false;
  }
  record.dtype = *parsed;
  *out = record;
  return true;
}

bool IsCollectiveDType(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
    case DType::kFloat64:
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kInt32:
    case DType::kInt64:
    case DType::kUInt8:
      return true;
    default:
      return false;
  }
}

Status CheckTensor(std::string_view op, std::string_view arg, const TensorView& tensor,
                   Device device) {
  // Built only for an error: this check runs on every op.
  auto where = [&] { return std::string(op) + ": `" + std::string(arg) + "`"; };
  if (!IsCollectiveDType(tensor.dtype)) {
    return InvalidArgumentError(where() + " has dtype " + std::string(DTypeName(tensor.dtype)) +
                                "; collectives take float32, float64, float16, bfloat16, int32, "
                                "int64 or uint8");
  }
  if (tensor.numel > 0 && tensor.data == nullptr) {
    return InvalidArgumentError(where() + " has " + std::to_string(tensor.numel) +
                                " elements but no data pointer");
  }
  if (tensor.device != device) {
    return InvalidArgumentError(
        where() + " is in " + (tensor.device == Device::kCuda ? "CUDA" : "CPU") +
        " memory but the communicator works on " + (device == Device::kCuda ? "CUDA" : "CPU") +
        " memory (CommunicatorOptions::device)");
  }
  return Status::Ok();
}

namespace {

std::string Shape(const TensorView& t) {
  return std::string(DTypeName(t.dtype)) + " x " + std::to_string(t.numel);
}

}  // namespace

Status CheckSameShape(std::string_view op, const TensorView& in, const TensorView& out) {
  if (in.dtype == out.dtype && in.numel == out.numel) return Status::Ok();
  return InvalidArgumentError(std::string(op) + ": `out` (" + Shape(out) + ") must match `in` (" +
                              Shape(in) + ")");
}

Status CheckBlocks(std::string_view op, std::string_view whole_name, const TensorView& whole,
                   std::string_view block_name, const TensorView& block, int world_size) {
  if (whole.dtype == block.dtype &&
      whole.numel == block.numel * static_cast<std::uint64_t>(world_size)) {
    return Status::Ok();
  }
  return InvalidArgumentError(std::string(op) + ": `" + std::string(whole_name) + "` (" +
                              Shape(whole) + ") must hold world_size (" +
                              std::to_string(world_size) + ") blocks of `" +
                              std::string(block_name) + "` (" + Shape(block) + ")");
}

Status CheckRoot(std::string_view op, int root, int world_size) {
  if (root >= 0 && root < world_size) return Status::Ok();
  return InvalidArgumentError(std::string(op) + ": root " + std::to_string(root) +
                              " is not a rank of a world of " + std::to_string(world_size));
}

}  // namespace train::internal
