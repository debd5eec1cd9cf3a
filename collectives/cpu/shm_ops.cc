#include "cpu/shm_ops.h"

#include <algorithm>
#include <vector>

#include "cpu/reduce_kernels.h"
#include "cpu/shm_copy.h"

namespace train::internal {
namespace {

using Byte = unsigned char;

std::uint32_t ChunksOf(std::uint64_t total, std::uint64_t per_chunk) {
  return static_cast<std::uint32_t>((total + per_chunk - 1) / per_chunk);
}

// The parts of a pipeline every op shares: where the segment is and how to copy out.
class OpBase : public ShmPipeline {
 protected:
  explicit OpBase(const ShmOpTarget& t) : t_(t), srcs_(t.size) {}

  Byte* Input(int slot, int member) const { return t_.segment->input(slot, member); }
  Byte* Result(int slot) const { return t_.segment->result(slot); }
  void CopyOut(void* dst, const void* src, std::size_t bytes) const {
    if (t_.stream) {
      StreamCopy(dst, src, bytes);
    } else {
      CachedCopy(dst, src, bytes);
    }
  }

  ShmOpTarget t_;
  std::vector<const void*> srcs_;  // ReduceMany's sources, in member order
};

// Chunks of `count` elements: each member reduces one share of every chunk, cut at cache
// lines so that no two members write the same line of the result slot.
class AllReduceOp final : public OpBase {
 public:
  AllReduceOp(const ShmOpTarget& t, const void* in, void* out, std::uint64_t count, DType dtype,
              ReduceOp op)
      : OpBase(t),
        in_(static_cast<const Byte*>(in)),
        out_(static_cast<Byte*>(out)),
        count_(count),
        dtype_(dtype),
        op_(op),
        es_(DTypeSize(dtype)),
        per_chunk_(t.chunk_bytes / es_),
        unit_(std::max<std::size_t>(1, kCacheLine / es_)) {
    chunks = ChunksOf(count, per_chunk_);
    has_reduce = true;
    has_out = true;
  }

  void In(std::uint64_t k, int slot) override {
    const Range c = Chunk(k), s = Share(c, t_.member);
    Byte* mine = Input(slot, t_.member);
    CachedCopy(mine, in_ + c.begin * es_, s.begin * es_);
    CachedCopy(mine + s.end * es_, in_ + (c.begin + s.end) * es_, (c.size() - s.end) * es_);
  }

  void Reduce(std::uint64_t k, int slot) override {
    const Range c = Chunk(k), s = Share(c, t_.member);
    if (s.size() == 0) return;
    for (int m = 0; m < t_.size; ++m) {
      srcs_[m] = m == t_.member ? in_ + (c.begin + s.begin) * es_ : Input(slot, m) + s.begin * es_;
    }
    Byte* reduced = Result(slot) + s.begin * es_;
    ReduceMany(dtype_, op_, reduced, srcs_.data(), t_.size, s.size());
    CopyOut(out_ + (c.begin + s.begin) * es_, reduced, s.size() * es_);
  }

  void Out(std::uint64_t k, int slot) override {
    const Range c = Chunk(k), s = Share(c, t_.member);
    const Byte* reduced = Result(slot);
    CopyOut(out_ + c.begin * es_, reduced, s.begin * es_);
    CopyOut(out_ + (c.begin + s.end) * es_, reduced + s.end * es_, (c.size() - s.end) * es_);
  }

 private:
  struct Range {
    std::uint64_t begin, end;
    std::uint64_t size() const { return end - begin; }
  };
  Range Chunk(std::uint64_t k) const {
    const std::uint64_t begin = k * per_chunk_;
    return {begin, std::min<std::uint64_t>(count_, begin + per_chunk_)};
  }
  // Member m's share of chunk c, relative to the chunk's start.
  Range Share(const Range& c, int m) const {
    const std::uint64_t units = (c.size() + unit_ - 1) / unit_;
    const auto n = static_cast<std::uint64_t>(t_.size);
    const std::uint64_t begin = std::min<std::uint64_t>(units * m / n * unit_, c.size());
    const std::uint64_t end = std::min<std::uint64_t>(units * (m + 1) / n * unit_, c.size());
    return {begin, end};
  }

  const Byte* in_;
  Byte* out_;
  std::uint64_t count_;
  DType dtype_;
  ReduceOp op_;
  std::size_t es_;
  std::uint64_t per_chunk_;
  std::uint64_t unit_;
};

// One step: every member publishes its whole input, then reduces all of it itself.
class SmallAllReduceOp final : public OpBase {
 public:
  SmallAllReduceOp(const ShmOpTarget& t, const void* in, void* out, std::uint64_t count,
                   DType dtype, ReduceOp op)
      : OpBase(t), in_(in), out_(out), count_(count), dtype_(dtype), op_(op) {
    chunks = 1;
    has_reduce = false;
    has_out = true;
  }

  void In(std::uint64_t, int slot) override {
    CachedCopy(Input(slot, t_.member), in_, count_ * DTypeSize(dtype_));
  }

  void Out(std::uint64_t, int slot) override {
    for (int m = 0; m < t_.size; ++m) srcs_[m] = m == t_.member ? in_ : Input(slot, m);
    ReduceMany(dtype_, op_, out_, srcs_.data(), t_.size, count_);
  }

 private:
  const void* in_;
  void* out_;
  std::uint64_t count_;
  DType dtype_;
  ReduceOp op_;
};

// Each slot holds, per member, the chunk of every block: block j at j * per_block elements.
class ReduceScatterOp final : public OpBase {
 public:
  ReduceScatterOp(const ShmOpTarget& t, const void* in, void* out, std::uint64_t count, DType dtype,
                  ReduceOp op)
      : OpBase(t),
        in_(static_cast<const Byte*>(in)),
        out_(static_cast<Byte*>(out)),
        count_(count),
        dtype_(dtype),
        op_(op),
        es_(DTypeSize(dtype)),
        per_block_(t.chunk_bytes / es_ / t.size) {
    chunks = ChunksOf(count, per_block_);
    has_reduce = true;
    has_out = false;
  }

  void In(std::uint64_t k, int slot) override {
    const std::uint64_t begin = k * per_block_, len = Length(k);
    Byte* mine = Input(slot, t_.member);
    for (int j = 0; j < t_.size; ++j) {
      if (j == t_.member) continue;
      CachedCopy(mine + j * per_block_ * es_, in_ + (j * count_ + begin) * es_, len * es_);
    }
  }

  void Reduce(std::uint64_t k, int slot) override {
    const std::uint64_t begin = k * per_block_, len = Length(k);
    const int me = t_.member;
    for (int m = 0; m < t_.size; ++m) {
      srcs_[m] =
          m == me ? in_ + (me * count_ + begin) * es_ : Input(slot, m) + me * per_block_ * es_;
    }
    ReduceMany(dtype_, op_, out_ + begin * es_, srcs_.data(), t_.size, len);
  }

 private:
  std::uint64_t Length(std::uint64_t k) const {
    return std::min<std::uint64_t>(per_block_, count_ - k * per_block_);
  }

  const Byte* in_;
  Byte* out_;
  std::uint64_t count_;
  DType dtype_;
  ReduceOp op_;
  std::size_t es_;
  std::uint64_t per_block_;
};

class AllGatherOp final : public OpBase {
 public:
  AllGatherOp(const ShmOpTarget& t, const void* in, void* out, std::uint64_t bytes)
      : OpBase(t), in_(static_cast<const Byte*>(in)), out_(static_cast<Byte*>(out)), bytes_(bytes) {
    chunks = ChunksOf(bytes, t.chunk_bytes);
    has_reduce = false;
    has_out = true;
  }

  void In(std::uint64_t k, int slot) override {
    const std::uint64_t begin = k * t_.chunk_bytes, len = Length(k);
    CachedCopy(Input(slot, t_.member), in_ + begin, len);
    CopyOut(out_ + t_.member * bytes_ + begin, in_ + begin, len);  // no-op when in place
  }

  void Out(std::uint64_t k, int slot) override {
    const std::uint64_t begin = k * t_.chunk_bytes, len = Length(k);
    for (int m = 0; m < t_.size; ++m) {
      if (m != t_.member) CopyOut(out_ + m * bytes_ + begin, Input(slot, m), len);
    }
  }

 private:
  std::uint64_t Length(std::uint64_t k) const {
    return std::min<std::uint64_t>(t_.chunk_bytes, bytes_ - k * t_.chunk_bytes);
  }

  const Byte* in_;
  Byte* out_;
  std::uint64_t bytes_;
};

class BroadcastOp final : public OpBase {
 public:
  BroadcastOp(const ShmOpTarget& t, void* inout, std::uint64_t bytes, int root)
      : OpBase(t), data_(static_cast<Byte*>(inout)), bytes_(bytes), root_(root) {
    chunks = ChunksOf(bytes, t.chunk_bytes);
    has_reduce = false;
    has_out = true;
    source = root;
  }

  void In(std::uint64_t k, int slot) override {
    if (t_.member != root_) return;
    CachedCopy(Input(slot, root_), data_ + k * t_.chunk_bytes, Length(k));
  }

  void Out(std::uint64_t k, int slot) override {
    if (t_.member == root_) return;
    CopyOut(data_ + k * t_.chunk_bytes, Input(slot, root_), Length(k));
  }

 private:
  std::uint64_t Length(std::uint64_t k) const {
    return std::min<std::uint64_t>(t_.chunk_bytes, bytes_ - k * t_.chunk_bytes);
  }

  Byte* data_;
  std::uint64_t bytes_;
  int root_;
};

class BarrierOp final : public ShmPipeline {
 public:
  BarrierOp() {
    chunks = 1;
    has_reduce = false;
    has_out = true;
  }
  void In(std::uint64_t, int) override {}
};

}  // namespace

std::unique_ptr<ShmPipeline> MakeAllReduce(const ShmOpTarget& target, const void* in, void* out,
                                           std::uint64_t count, DType dtype, ReduceOp op) {
  const std::uint64_t bytes = count * DTypeSize(dtype);
  if (bytes <= std::min<std::uint64_t>(kShmSmallBytes, target.chunk_bytes)) {
    return std::make_unique<SmallAllReduceOp>(target, in, out, count, dtype, op);
  }
  return std::make_unique<AllReduceOp>(target, in, out, count, dtype, op);
}

std::unique_ptr<ShmPipeline> MakeReduceScatter(const ShmOpTarget& target, const void* in, void* out,
                                               std::uint64_t count, DType dtype, ReduceOp op) {
  return std::make_unique<ReduceScatterOp>(target, in, out, count, dtype, op);
}

std::unique_ptr<ShmPipeline> MakeAllGather(const ShmOpTarget& target, const void* in, void* out,
                                           std::uint64_t bytes) {
  return std::make_unique<AllGatherOp>(target, in, out, bytes);
}

std::unique_ptr<ShmPipeline> MakeBroadcast(const ShmOpTarget& target, void* inout,
                                           std::uint64_t bytes, int root) {
  return std::make_unique<BroadcastOp>(target, inout, bytes, root);
}

std::unique_ptr<ShmPipeline> MakeBarrier() { return std::make_unique<BarrierOp>(); }

}  // namespace train::internal
