#include "rank_group.h"

#include <algorithm>
#include <cstring>

namespace train::internal {
namespace {

TensorView Int64View(std::int64_t* data, std::uint64_t count) {
  return TensorView{data, DType::kInt64, count, Device::kCpu, 0};
}

TensorView ByteView(std::string& data) {
  return TensorView{data.data(), DType::kUInt8, data.size(), Device::kCpu, 0};
}

Status InContext(Status status) { return status.WithContext("checkpoint collective"); }

}  // namespace

Status RankGroup::Barrier() {
  if (comm_ == nullptr) return Status::Ok();
  return InContext(comm_->Barrier()->Wait());
}

Result<std::int64_t> RankGroup::Max(std::int64_t value) {
  if (comm_ == nullptr) return value;
  TRAIN_RETURN_IF_ERROR(InContext(comm_->AllReduce(Int64View(&value, 1), ReduceOp::kMax)->Wait()));
  return value;
}

Result<std::string> RankGroup::BroadcastFromRoot(const std::string& text) {
  if (comm_ == nullptr) return text;
  std::int64_t length = static_cast<std::int64_t>(text.size());
  TRAIN_RETURN_IF_ERROR(InContext(comm_->Broadcast(Int64View(&length, 1), 0)->Wait()));
  std::string out = rank_ == 0 ? text : std::string(static_cast<std::size_t>(length), '\0');
  if (length > 0) TRAIN_RETURN_IF_ERROR(InContext(comm_->Broadcast(ByteView(out), 0)->Wait()));
  return out;
}

Result<std::vector<std::string>> RankGroup::AllGather(const std::string& text) {
  if (comm_ == nullptr) return std::vector<std::string>{text};
  std::vector<std::int64_t> lengths(size_);
  std::int64_t mine = static_cast<std::int64_t>(text.size());
  TRAIN_RETURN_IF_ERROR(InContext(
      comm_->AllGather(Int64View(&mine, 1), Int64View(lengths.data(), lengths.size()))->Wait()));
  const std::size_t longest =
      static_cast<std::size_t>(*std::max_element(lengths.begin(), lengths.end()));
  std::vector<std::string> out(size_);
  if (longest == 0) return out;
  std::string padded = text;
  padded.resize(longest, '\0');
  std::string all(longest * size_, '\0');
  TRAIN_RETURN_IF_ERROR(InContext(comm_->AllGather(ByteView(padded), ByteView(all))->Wait()));
  for (int r = 0; r < size_; ++r) {
    out[r] = all.substr(r * longest, static_cast<std::size_t>(lengths[r]));
  }
  return out;
}

}  // namespace train::internal
