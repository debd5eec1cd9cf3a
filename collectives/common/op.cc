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
  std::ostringstream where;
  where << op << ": `" << arg << "`";
  if (!IsCollectiveDType(tensor.dtype)) {
    return InvalidArgumentError(where.str() + " has dtype " + std::string(DTypeName(tensor.dtype)) +
                                "; collectives take float32, float64, float16, bfloat16, int32, "
                                "int64 or uint8");
  }
  if (tensor.numel > 0 && tensor.data == nullptr) {
    return InvalidArgumentError(where.str() + " has " + std::to_string(tensor.numel) +
                                " elements but no data pointer");
  }
  if (tensor.device != device) {
    return InvalidArgumentError(
        where.str() + " is in " + (tensor.device == Device::kCuda ? "CUDA" : "CPU") +
        " memory but the communicator works on " + (device == Device::kCuda ? "CUDA" : "CPU") +
        " memory (CommunicatorOptions::device)");
  }
  return Status::Ok();
}

}  // namespace train::internal
