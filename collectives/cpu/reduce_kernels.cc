// Elementwise reductions. Every loop is a plain indexed loop over restrict-qualified pointers
// with a branch-free body, so that -O3 vectorizes it for generic x86-64 (SSE2): the float16
// and bfloat16 conversions below are integer bit manipulation plus selects, not branches.
//
// ReduceMany works block by block: a block of the result is accumulated (in float32 for the
// 16-bit floats) across the sources in order, then stored. When the destination overlaps a
// source, the block is accumulated in a local buffer first, so `dst` may be one of `srcs`.
#include "cpu/reduce_kernels.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "train/internal/half_float.h"

namespace train::internal {
namespace {

// Elements of a block: 4 KiB of accumulator, which stays in L1.
constexpr std::size_t kBlockBytes = 4096;

// --- element types: storage T, accumulator A, and the conversions between them ------------

template <typename T>
struct Native {
  using Storage = T;
  using Acc = T;
  static constexpr bool kWidened = false;
  static Acc Load(T v) { return v; }
  static T Store(Acc v) { return v; }
};

struct Half {
  using Storage = std::uint16_t;
  using Acc = float;
  static constexpr bool kWidened = true;
  static float Load(std::uint16_t v) { return HalfToFloat(v); }
  static std::uint16_t Store(float v) { return FloatToHalf(v); }
};

struct BFloat {
  using Storage = std::uint16_t;
  using Acc = float;
  static constexpr bool kWidened = true;
  static float Load(std::uint16_t v) { return BFloatToFloat(v); }
  static std::uint16_t Store(float v) { return FloatToBFloat(v); }
};

// --- the reductions ---------------------------------------------------------------------

// Signed integers wrap on overflow (two's complement), computed in unsigned arithmetic.
template <typename A>
inline A WrapAdd(A a, A b) {
  if constexpr (std::is_signed_v<A> && std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return static_cast<A>(a + b);
  }
}

template <typename A>
inline A WrapMul(A a, A b) {
  if constexpr (std::is_signed_v<A> && std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) * static_cast<U>(b));
  } else if constexpr (std::is_integral_v<A>) {
    // uint8 promotes to int; 255 * 255 fits.
    return static_cast<A>(static_cast<unsigned>(a) * static_cast<unsigned>(b));
  } else {
    return a * b;
  }
}

struct Sum {
  template <typename A>
  static A Apply(A a, A b) {
    return WrapAdd(a, b);
  }
};

struct Prod {
  template <typename A>
  static A Apply(A a, A b) {
    return WrapMul(a, b);
  }
};

// Min and max propagate NaN: a NaN in any source makes the result NaN.
struct Min {
  template <typename A>
  static A Apply(A a, A b) {
    if constexpr (std::is_floating_point_v<A>) {
      return (a < b || a != a) ? a : b;
    } else {
      return a < b ? a : b;
    }
  }
};

struct Max {
  template <typename A>
  static A Apply(A a, A b) {
    if constexpr (std::is_floating_point_v<A>) {
      return (a > b || a != a) ? a : b;
    } else {
      return a > b ? a : b;
    }
  }
};

// acc[i] = Load(s[i])
template <typename E>
void LoadBlock(typename E::Acc* __restrict acc, const typename E::Storage* __restrict s,
               std::size_t m) {
  for (std::size_t i = 0; i < m; ++i) acc[i] = E::Load(s[i]);
}

// acc[i] = Load(a[i]) op Load(b[i])
template <typename E, typename Op>
void ReducePair(typename E::Acc* __restrict acc, const typename E::Storage* __restrict a,
                const typename E::Storage* __restrict b, std::size_t m) {
  for (std::size_t i = 0; i < m; ++i) acc[i] = Op::Apply(E::Load(a[i]), E::Load(b[i]));
}

// acc[i] = acc[i] op Load(s[i])
template <typename E, typename Op>
void AccumulateInto(typename E::Acc* __restrict acc, const typename E::Storage* __restrict s,
                    std::size_t m) {
  for (std::size_t i = 0; i < m; ++i) acc[i] = Op::Apply(acc[i], E::Load(s[i]));
}

// d[i] = Store(acc[i])
template <typename E>
void StoreBlock(typename E::Storage* __restrict d, const typename E::Acc* __restrict acc,
                std::size_t m) {
  for (std::size_t i = 0; i < m; ++i) d[i] = E::Store(acc[i]);
}

// d[i] = Store(Load(a[i]) op Load(b[i])): the direct form when d overlaps neither source.
template <typename E, typename Op>
void ReducePairStore(typename E::Storage* __restrict d, const typename E::Storage* __restrict a,
                     const typename E::Storage* __restrict b, std::size_t m) {
  for (std::size_t i = 0; i < m; ++i) d[i] = E::Store(Op::Apply(E::Load(a[i]), E::Load(b[i])));
}

// d[i] = Store(Load(d[i]) op Load(s[i])): ReduceInto when s does not overlap d.
template <typename E, typename Op>
void AccumulateStore(typename E::Storage* __restrict d, const typename E::Storage* __restrict s,
                     std::size_t m) {
  for (std::size_t i = 0; i < m; ++i) d[i] = E::Store(Op::Apply(E::Load(d[i]), E::Load(s[i])));
}

bool Overlaps(const void* a, const void* b, std::size_t bytes) {
  const auto x = reinterpret_cast<std::uintptr_t>(a);
  const auto y = reinterpret_cast<std::uintptr_t>(b);
  return x < y + bytes && y < x + bytes;
}

template <typename E, typename Op>
void Many(void* dst_v, const void* const* srcs_v, int n, std::uint64_t count) {
  using T = typename E::Storage;
  using A = typename E::Acc;
  constexpr std::size_t kBlock = kBlockBytes / sizeof(A);
  T* dst = static_cast<T*>(dst_v);
  const std::size_t bytes = count * sizeof(T);
  if (n == 1) {
    if (dst_v != srcs_v[0]) std::memmove(dst_v, srcs_v[0], bytes);
    return;
  }
  if (n == 2 && dst_v == srcs_v[0] && !Overlaps(dst_v, srcs_v[1], bytes)) {
    AccumulateStore<E, Op>(dst, static_cast<const T*>(srcs_v[1]), count);
    return;
  }
  bool aliased = false;
  for (int k = 0; k < n; ++k) aliased = aliased || Overlaps(dst_v, srcs_v[k], bytes);
  // Native types accumulate straight into dst when it overlaps no source.
  const bool direct = !E::kWidened && !aliased;
  alignas(64) A local[kBlock];
  for (std::uint64_t base = 0; base < count; base += kBlock) {
    const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(kBlock, count - base));
    auto src = [&](int k) { return static_cast<const T*>(srcs_v[k]) + base; };
    if (n == 2 && !aliased) {
      ReducePairStore<E, Op>(dst + base, src(0), src(1), m);
      continue;
    }
    A* acc = local;
    if constexpr (!E::kWidened) {
      if (direct) acc = dst + base;
    }
    ReducePair<E, Op>(acc, src(0), src(1), m);
    for (int k = 2; k < n; ++k) AccumulateInto<E, Op>(acc, src(k), m);
    if (acc == local) StoreBlock<E>(dst + base, local, m);
  }
}

template <typename E>
void ManyForOp(ReduceOp op, void* dst, const void* const* srcs, int n, std::uint64_t count) {
  switch (op) {
    case ReduceOp::kSum:
      return Many<E, Sum>(dst, srcs, n, count);
    case ReduceOp::kProd:
      return Many<E, Prod>(dst, srcs, n, count);
    case ReduceOp::kMin:
      return Many<E, Min>(dst, srcs, n, count);
    case ReduceOp::kMax:
      return Many<E, Max>(dst, srcs, n, count);
    case ReduceOp::kAvg:
      break;
  }
  TRAIN_CHECK(false && "ReduceMany: kAvg is a sum followed by DivideBy");
}

// data[i] /= divisor. Floats divide (correctly rounded; the 16-bit ones in float32, rounded
// once); int32 and uint8 divide in double, which is exact and truncates like integer division;
// int64 divides as integers.
template <typename E>
void Divide(void* data_v, std::uint64_t count, int divisor) {
  using T = typename E::Storage;
  using A = typename E::Acc;
  T* __restrict data = static_cast<T*>(data_v);
  if constexpr (std::is_floating_point_v<A>) {
    const A d = static_cast<A>(divisor);
    for (std::uint64_t i = 0; i < count; ++i) data[i] = E::Store(E::Load(data[i]) / d);
  } else if constexpr (sizeof(T) <= 4) {
    const double d = static_cast<double>(divisor);
    for (std::uint64_t i = 0; i < count; ++i) {
      data[i] = static_cast<T>(static_cast<std::int32_t>(static_cast<double>(data[i]) / d));
    }
  } else {
    const T d = static_cast<T>(divisor);
    for (std::uint64_t i = 0; i < count; ++i) data[i] /= d;
  }
}

}  // namespace

void ReduceMany(DType dtype, ReduceOp op, void* dst, const void* const* srcs, int n,
                std::uint64_t count) {
  TRAIN_CHECK_GE(n, 1);
  if (count == 0) return;
  switch (dtype) {
    case DType::kFloat32:
      return ManyForOp<Native<float>>(op, dst, srcs, n, count);
    case DType::kFloat64:
      return ManyForOp<Native<double>>(op, dst, srcs, n, count);
    case DType::kFloat16:
      return ManyForOp<Half>(op, dst, srcs, n, count);
    case DType::kBFloat16:
      return ManyForOp<BFloat>(op, dst, srcs, n, count);
    case DType::kInt32:
      return ManyForOp<Native<std::int32_t>>(op, dst, srcs, n, count);
    case DType::kInt64:
      return ManyForOp<Native<std::int64_t>>(op, dst, srcs, n, count);
    case DType::kUInt8:
      return ManyForOp<Native<std::uint8_t>>(op, dst, srcs, n, count);
    default:
      break;
  }
  TRAIN_CHECK(false && "ReduceMany: dtype not supported by collectives");
}

void ReduceInto(DType dtype, ReduceOp op, void* dst, const void* src, std::uint64_t count) {
  const void* srcs[2] = {dst, src};
  ReduceMany(dtype, op, dst, srcs, 2, count);
}

void DivideBy(DType dtype, void* data, std::uint64_t count, int divisor) {
  TRAIN_CHECK_NE(divisor, 0);
  switch (dtype) {
    case DType::kFloat32:
      return Divide<Native<float>>(data, count, divisor);
    case DType::kFloat64:
      return Divide<Native<double>>(data, count, divisor);
    case DType::kFloat16:
      return Divide<Half>(data, count, divisor);
    case DType::kBFloat16:
      return Divide<BFloat>(data, count, divisor);
    case DType::kInt32:
      return Divide<Native<std::int32_t>>(data, count, divisor);
    case DType::kInt64:
      return Divide<Native<std::int64_t>>(data, count, divisor);
    case DType::kUInt8:
      return Divide<Native<std::uint8_t>>(data, count, divisor);
    default:
      break;
  }
  TRAIN_CHECK(false && "DivideBy: dtype not supported by collectives");
}

}  // namespace train::internal
