// What one issued collective is: kind, reduction, dtype, count and its sequence number. Used
// to validate ops, to describe them in errors and to publish them to the store.
#ifndef TRAIN_COLLECTIVES_COMMON_OP_H_
#define TRAIN_COLLECTIVES_COMMON_OP_H_

#include <cstdint>
#include <string>

#include "common/collective_kind.h"
#include "train/communicator.h"

namespace train::internal {

struct OpRecord {
  CollectiveKind kind = CollectiveKind::kBarrier;
  ReduceOp reduce = ReduceOp::kSum;
  DType dtype = DType::kFloat32;
  std::uint64_t count = 0;  // elements per rank (allgather: the input; reducescatter: output)
  int root = 0;             // broadcast only
  std::uint64_t seq = 0;    // 1 for the communicator's first op

  // "allreduce #12 (sum, float32 x 1048576)"
  std::string Describe() const;
  // A one-line text form for the store, and back ("allreduce 12 sum float32 1048576 0").
  std::string Encode() const;
  static bool Decode(const std::string& text, OpRecord* out);
};

// True for the dtypes collectives accept: float32, float64, float16, bfloat16, int32, int64,
// uint8.
bool IsCollectiveDType(DType dtype);

// Checks a tensor an op was given: dtype supported, data set unless numel is 0, on `device`.
// Errors name the op and the argument ("allreduce: `out` has 10 elements, `in` has 12").
Status CheckTensor(std::string_view op, std::string_view arg, const TensorView& tensor,
                   Device device);

// The shape checks every backend makes after its per-tensor ones; errors name the op and
// both tensors ("allreduce: `out` (float32 x 12) must match `in` (float32 x 10)").
// AllReduce: same dtype and size.
Status CheckSameShape(std::string_view op, const TensorView& in, const TensorView& out);
// ReduceScatter (`whole` is `in`) and AllGather (`whole` is `out`): `whole` holds world_size
// blocks of `block`, of the same dtype.
Status CheckBlocks(std::string_view op, std::string_view whole_name, const TensorView& whole,
                   std::string_view block_name, const TensorView& block, int world_size);
// Broadcast: the root is a rank.
Status CheckRoot(std::string_view op, int root, int world_size);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_COMMON_OP_H_
