// The vectorized reductions against a scalar reference written independently of them: every
// dtype x op x source count x length, destination apart from or aliasing a source, the
// float16/bfloat16 conversions at their edges (subnormals, ties, overflow, NaN), DivideBy.
#include "cpu/reduce_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace train::internal {
namespace {

// --- reference conversions: plain arithmetic in double, with branches ---------------------

float RefHalfToFloat(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 31) {
    return mantissa == 0 ? static_cast<float>(sign * INFINITY)
                         : std::numeric_limits<float>::quiet_NaN();
  }
  if (exponent == 0) return static_cast<float>(sign * std::ldexp(mantissa, -24));
  return static_cast<float>(sign * std::ldexp(1024 + mantissa, exponent - 25));
}

std::uint16_t RefFloatToHalf(float f) {
  if (std::isnan(f)) return 0x7e00;
  const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(f));
  if (a >= 65520.0) return sign | 0x7c00;  // 65520 is halfway to 65536: ties to even, inf
  if (a < std::ldexp(1.0, -14)) {
    return sign | static_cast<std::uint16_t>(std::nearbyint(std::ldexp(a, 24)));
  }
  int e = 0;
  std::frexp(a, &e);  // a = fr * 2^e, fr in [0.5, 1)
  int exponent = e - 1;
  double mantissa = std::nearbyint((std::ldexp(a, -exponent) - 1.0) * 1024.0);
  if (mantissa == 1024.0) {
    mantissa = 0;
    ++exponent;
  }
  return sign | static_cast<std::uint16_t>(((exponent + 15) << 10) | static_cast<int>(mantissa));
}

float RefBFloatToFloat(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

std::uint16_t RefFloatToBFloat(float f) {
  if (std::isnan(f)) return 0x7fc0;
  const double a = std::fabs(static_cast<double>(f));
  int e = 0;
  std::frexp(a, &e);
  const int exponent = a == 0 ? -126 : std::max(e - 1, -126);
  const double ulp = std::ldexp(1.0, exponent - 7);
  double r = std::nearbyint(a / ulp) * ulp;
  if (r >= std::ldexp(1.0, 128)) r = INFINITY;
  const float rounded = static_cast<float>(std::signbit(f) ? -r : r);
  return static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(rounded) >> 16);
}

// --- reference reductions -------------------------------------------------------------

template <typename A>
A RefApply(ReduceOp op, A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    switch (op) {
      case ReduceOp::kSum:
        return static_cast<A>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
      case ReduceOp::kProd:
        return static_cast<A>(static_cast<U>(static_cast<std::uint64_t>(static_cast<U>(a)) *
                                             static_cast<std::uint64_t>(static_cast<U>(b))));
      case ReduceOp::kMin:
        return std::min(a, b);
      case ReduceOp::kMax:
        return std::max(a, b);
      default:
        break;
    }
  } else {
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<A>::quiet_NaN();
    switch (op) {
      case ReduceOp::kSum:
        return a + b;
      case ReduceOp::kProd:
        return a * b;
      case ReduceOp::kMin:  // ties (-0 and +0) give the later operand
        return a < b ? a : b;
      case ReduceOp::kMax:
        return a > b ? a : b;
      default:
        break;
    }
  }
  ADD_FAILURE() << "bad op";
  return a;
}

// Element i of the reference result, as raw bytes of the dtype.
template <typename T>
T RefNative(ReduceOp op, const std::vector<const T*>& srcs, std::size_t i) {
  T acc = srcs[0][i];
  for (std::size_t k = 1; k < srcs.size(); ++k) acc = RefApply(op, acc, srcs[k][i]);
  return acc;
}

std::uint16_t RefWidened(DType dtype, ReduceOp op, const std::vector<const std::uint16_t*>& srcs,
                         std::size_t i) {
  const bool half = dtype == DType::kFloat16;
  auto widen = [&](std::uint16_t v) { return half ? RefHalfToFloat(v) : RefBFloatToFloat(v); };
  if (srcs.size() == 1) return srcs[0][i];  // a single source is copied as is
  float acc = widen(srcs[0][i]);
  for (std::size_t k = 1; k < srcs.size(); ++k) acc = RefApply(op, acc, widen(srcs[k][i]));
  return half ? RefFloatToHalf(acc) : RefFloatToBFloat(acc);
}

bool IsNanBits(DType dtype, const unsigned char* p) {
  switch (dtype) {
    case DType::kFloat32: {
      float v;
      std::memcpy(&v, p, 4);
      return std::isnan(v);
    }
    case DType::kFloat64: {
      double v;
      std::memcpy(&v, p, 8);
      return std::isnan(v);
    }
    case DType::kFloat16: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return (v & 0x7fff) > 0x7c00;
    }
    case DType::kBFloat16: {
      std::uint16_t v;
      std::memcpy(&v, p, 2);
      return (v & 0x7fff) > 0x7f80;
    }
    default:
      return false;
  }
}

// The reference result of reducing `srcs` (count elements of dtype), as bytes.
std::vector<unsigned char> Reference(DType dtype, ReduceOp op,
                                     const std::vector<std::vector<unsigned char>>& srcs,
                                     std::size_t count) {
  const std::size_t size = DTypeSize(dtype);
  std::vector<unsigned char> out(count * size);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    std::vector<const T*> ptrs;
    for (const auto& s : srcs) ptrs.push_back(reinterpret_cast<const T*>(s.data()));
    T* o = reinterpret_cast<T*>(out.data());
    for (std::size_t i = 0; i < count; ++i) {
      if constexpr (std::is_same_v<T, std::uint16_t>) {
        o[i] = RefWidened(dtype, op, ptrs, i);
      } else {
        o[i] = RefNative<T>(op, ptrs, i);
      }
    }
  };
  switch (dtype) {
    case DType::kFloat32:
      run(float{});
      break;
    case DType::kFloat64:
      run(double{});
      break;
    case DType::kFloat16:
    case DType::kBFloat16:
      run(std::uint16_t{});
      break;
    case DType::kInt32:
      run(std::int32_t{});
      break;
    case DType::kInt64:
      run(std::int64_t{});
      break;
    case DType::kUInt8:
      run(std::uint8_t{});
      break;
    default:
      ADD_FAILURE() << "dtype";
  }
  return out;
}

// Compares element by element; NaN equals NaN (payloads may differ).
::testing::AssertionResult SameElements(DType dtype, const std::vector<unsigned char>& want,
                                        const unsigned char* got, std::size_t count) {
  const std::size_t size = DTypeSize(dtype);
  for (std::size_t i = 0; i < count; ++i) {
    const unsigned char* w = want.data() + i * size;
    const unsigned char* g = got + i * size;
    if (std::memcmp(w, g, size) == 0) continue;
    if (IsNanBits(dtype, w) && IsNanBits(dtype, g)) continue;
    std::uint64_t wv = 0, gv = 0;
    std::memcpy(&wv, w, size);
    std::memcpy(&gv, g, size);
    return ::testing::AssertionFailure() << DTypeName(dtype) << " element " << i << " of " << count
                                         << ": want bits 0x" << std::hex << wv << ", got 0x" << gv;
  }
  return ::testing::AssertionSuccess();
}

// Random elements: floats of mixed sign and magnitude (with a few NaN, inf, zeros), integers
// over their whole range.
std::vector<unsigned char> RandomData(DType dtype, std::size_t count, std::mt19937_64& rng,
                                      bool specials) {
  const std::size_t size = DTypeSize(dtype);
  std::vector<unsigned char> out(count * size);
  std::uniform_real_distribution<double> value(-4.0, 4.0);
  std::uniform_int_distribution<int> pick(0, 99);
  for (std::size_t i = 0; i < count; ++i) {
    unsigned char* p = out.data() + i * size;
    double v = value(rng);
    if (specials) {
      const int r = pick(rng);
      if (r == 0) v = std::numeric_limits<double>::quiet_NaN();
      if (r == 1) v = INFINITY;
      if (r == 2) v = -INFINITY;
      if (r == 3) v = -0.0;
      if (r == 4) v = std::ldexp(v, -20);  // subnormal for float16
    }
    switch (dtype) {
      case DType::kFloat32: {
        const float f = static_cast<float>(v);
        std::memcpy(p, &f, 4);
        break;
      }
      case DType::kFloat64:
        std::memcpy(p, &v, 8);
        break;
      case DType::kFloat16: {
        const std::uint16_t h = RefFloatToHalf(static_cast<float>(v));
        std::memcpy(p, &h, 2);
        break;
      }
      case DType::kBFloat16: {
        const std::uint16_t h = RefFloatToBFloat(static_cast<float>(v));
        std::memcpy(p, &h, 2);
        break;
      }
      default: {
        const std::uint64_t bits = rng();
        std::memcpy(p, &bits, size);
      }
    }
  }
  return out;
}

const DType kDTypes[] = {DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
                         DType::kInt32,   DType::kInt64,   DType::kUInt8};
const ReduceOp kOps[] = {ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMin, ReduceOp::kMax};
const std::size_t kCounts[] = {0, 1, 7, 1023, 1025, 4096 + 3, 20000};

TEST(ReduceKernelsTest, ReduceManyMatchesReferenceForEveryDTypeOpAndSourceCount) {
  std::mt19937_64 rng(1);
  for (DType dtype : kDTypes) {
    for (ReduceOp op : kOps) {
      for (int n = 1; n <= 8; ++n) {
        for (std::size_t count : kCounts) {
          SCOPED_TRACE(std::string(DTypeName(dtype)) + " " + std::string(ReduceOpName(op)) +
                       " n=" + std::to_string(n) + " count=" + std::to_string(count));
          std::vector<std::vector<unsigned char>> srcs;
          for (int k = 0; k < n; ++k) srcs.push_back(RandomData(dtype, count, rng, true));
          const auto want = Reference(dtype, op, srcs, count);
          std::vector<const void*> ptrs;
          for (const auto& s : srcs) ptrs.push_back(s.data());

          std::vector<unsigned char> dst(want.size() + 1, 0xab);
          ReduceMany(dtype, op, dst.data(), ptrs.data(), n, count);
          ASSERT_TRUE(SameElements(dtype, want, dst.data(), count)) << "dst apart";
          EXPECT_EQ(dst.back(), 0xab) << "wrote past the end";

          // In place: dst is the last source, then the first.
          for (int j : {n - 1, 0}) {
            auto copy = srcs;
            std::vector<const void*> cptrs;
            for (const auto& s : copy) cptrs.push_back(s.data());
            ReduceMany(dtype, op, copy[j].data(), cptrs.data(), n, count);
            ASSERT_TRUE(SameElements(dtype, want, copy[j].data(), count)) << "dst is source " << j;
          }
        }
      }
    }
  }
}

TEST(ReduceKernelsTest, ReduceIntoMatchesReference) {
  std::mt19937_64 rng(2);
  for (DType dtype : kDTypes) {
    for (ReduceOp op : kOps) {
      for (std::size_t count : kCounts) {
        SCOPED_TRACE(std::string(DTypeName(dtype)) + " " + std::string(ReduceOpName(op)) +
                     " count=" + std::to_string(count));
        std::vector<std::vector<unsigned char>> srcs = {RandomData(dtype, count, rng, true),
                                                        RandomData(dtype, count, rng, true)};
        const auto want = Reference(dtype, op, srcs, count);
        auto dst = srcs[0];
        ReduceInto(dtype, op, dst.data(), srcs[1].data(), count);
        ASSERT_TRUE(SameElements(dtype, want, dst.data(), count));

        // dst op= dst.
        auto self = srcs[1];
        ReduceInto(dtype, op, self.data(), self.data(), count);
        const auto want_self = Reference(dtype, op, {srcs[1], srcs[1]}, count);
        ASSERT_TRUE(SameElements(dtype, want_self, self.data(), count));
      }
    }
  }
}

TEST(ReduceKernelsTest, ResultDoesNotDependOnChunking) {
  std::mt19937_64 rng(3);
  const std::size_t count = 50001;
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64}) {
    const std::size_t size = DTypeSize(dtype);
    std::vector<std::vector<unsigned char>> srcs;
    std::vector<const void*> ptrs;
    for (int k = 0; k < 5; ++k) srcs.push_back(RandomData(dtype, count, rng, false));
    for (const auto& s : srcs) ptrs.push_back(s.data());
    std::vector<unsigned char> whole(count * size);
    ReduceMany(dtype, ReduceOp::kSum, whole.data(), ptrs.data(), 5, count);
    for (std::size_t chunk : {1, 3, 1000, 4099}) {
      std::vector<unsigned char> pieces(count * size);
      for (std::size_t at = 0; at < count; at += chunk) {
        const std::size_t m = std::min(chunk, count - at);
        std::vector<const void*> part;
        for (const auto& s : srcs) part.push_back(s.data() + at * size);
        ReduceMany(dtype, ReduceOp::kSum, pieces.data() + at * size, part.data(), 5, m);
      }
      EXPECT_EQ(pieces, whole) << DTypeName(dtype) << " in chunks of " << chunk;
    }
  }
}

TEST(ReduceKernelsTest, SixteenBitFloatsAccumulateInFloat32AndRoundOnce) {
  // 2048 + 1 + 1 in float16: rounding after each step gives 2048 (2049 ties to even, 2048),
  // accumulating in float32 gives 2050, which is representable.
  const std::uint16_t big = RefFloatToHalf(2048.0f), one = RefFloatToHalf(1.0f);
  ASSERT_EQ(RefHalfToFloat(big), 2048.0f);
  std::vector<std::uint16_t> a = {big}, b = {one}, c = {one}, out = {0};
  const void* srcs[] = {a.data(), b.data(), c.data()};
  ReduceMany(DType::kFloat16, ReduceOp::kSum, out.data(), srcs, 3, 1);
  EXPECT_EQ(RefHalfToFloat(out[0]), 2050.0f);
  // The same for bfloat16: 256 + 1 + 1 (bfloat16 has 8 significant bits).
  const std::uint16_t bbig = RefFloatToBFloat(256.0f), bone = RefFloatToBFloat(1.0f);
  std::vector<std::uint16_t> x = {bbig}, y = {bone}, z = {bone}, bout = {0};
  const void* bsrcs[] = {x.data(), y.data(), z.data()};
  ReduceMany(DType::kBFloat16, ReduceOp::kSum, bout.data(), bsrcs, 3, 1);
  EXPECT_EQ(RefBFloatToFloat(bout[0]), 258.0f);
}

TEST(ReduceKernelsTest, Float16ConversionsAreExactAtEveryEdge) {
  // Every float16 value survives float32 and back (x * 1 is exact), NaNs stay NaN.
  std::vector<std::uint16_t> all(65536), ones(65536, RefFloatToHalf(1.0f));
  for (int i = 0; i < 65536; ++i) all[i] = static_cast<std::uint16_t>(i);
  auto out = all;
  ReduceInto(DType::kFloat16, ReduceOp::kProd, out.data(), ones.data(), out.size());
  for (int i = 0; i < 65536; ++i) {
    if ((i & 0x7fff) > 0x7c00) {
      EXPECT_GT(out[i] & 0x7fff, 0x7c00) << "NaN 0x" << std::hex << i;
    } else {
      ASSERT_EQ(out[i], all[i]) << "0x" << std::hex << i;
    }
  }
  // Products of every value with multipliers that move it across the subnormal boundary and
  // into overflow: the float32 product is exact, so this checks rounding to float16 of
  // 22-bit significands at every exponent, ties included.
  for (float m : {0.5f, 0.25f, 0x1p-10f, 0x1p-14f, 0x1p-20f, 0x1p-24f, 3.0f, 1.5f, 1.0009765625f,
                  0.9990234375f, 2.0f, 1024.0f, 65504.0f, -0x1p-14f}) {
    std::vector<std::uint16_t> mult(65536, RefFloatToHalf(m)), got = all;
    ASSERT_EQ(RefHalfToFloat(mult[0]), m);
    ReduceInto(DType::kFloat16, ReduceOp::kProd, got.data(), mult.data(), got.size());
    for (int i = 0; i < 65536; ++i) {
      const float product = RefHalfToFloat(all[i]) * m;
      const std::uint16_t want = RefFloatToHalf(product);
      if (std::isnan(product)) {
        EXPECT_GT(got[i] & 0x7fff, 0x7c00);
      } else {
        ASSERT_EQ(got[i], want) << "0x" << std::hex << i << " * " << m << " = " << product;
      }
    }
  }
}

TEST(ReduceKernelsTest, BFloat16ConversionsAreExactAtEveryEdge) {
  std::vector<std::uint16_t> all(65536);
  for (int i = 0; i < 65536; ++i) all[i] = static_cast<std::uint16_t>(i);
  for (float m :
       {1.0f, 0.5f, 3.0f, 1.0078125f, 0x1p-100f, 0x1p-126f, 0x1p100f, 1.5f, -0.99609375f}) {
    std::vector<std::uint16_t> mult(65536, RefFloatToBFloat(m)), got = all;
    ASSERT_EQ(RefBFloatToFloat(mult[0]), m);
    ReduceInto(DType::kBFloat16, ReduceOp::kProd, got.data(), mult.data(), got.size());
    for (int i = 0; i < 65536; ++i) {
      const float product = RefBFloatToFloat(all[i]) * m;
      if (std::isnan(product)) {
        EXPECT_GT(got[i] & 0x7fff, 0x7f80);
      } else {
        ASSERT_EQ(got[i], RefFloatToBFloat(product)) << "0x" << std::hex << i << " * " << m;
      }
    }
  }
}

TEST(ReduceKernelsTest, MinAndMaxPropagateNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (ReduceOp op : {ReduceOp::kMin, ReduceOp::kMax}) {
    std::vector<float> a = {1.0f, nan, nan}, b = {nan, 1.0f, nan};
    ReduceInto(DType::kFloat32, op, a.data(), b.data(), 3);
    for (float v : a) EXPECT_TRUE(std::isnan(v)) << ReduceOpName(op);
  }
}

template <typename T>
void ExpectDivided(DType dtype, std::vector<T> values, int divisor) {
  auto data = values;
  DivideBy(dtype, data.data(), data.size(), divisor);
  for (std::size_t i = 0; i < values.size(); ++i) {
    T want;
    if constexpr (std::is_same_v<T, std::uint16_t>) {
      want = dtype == DType::kFloat16
                 ? RefFloatToHalf(RefHalfToFloat(values[i]) / static_cast<float>(divisor))
                 : RefFloatToBFloat(RefBFloatToFloat(values[i]) / static_cast<float>(divisor));
    } else if constexpr (std::is_floating_point_v<T>) {
      want = values[i] / static_cast<T>(divisor);
    } else {
      want = static_cast<T>(static_cast<std::int64_t>(values[i]) / divisor);
    }
    ASSERT_EQ(std::memcmp(&want, &data[i], sizeof(T)), 0)
        << DTypeName(dtype) << " " << +values[i] << " / " << divisor << " gave " << +data[i]
        << ", want " << +want;
  }
}

TEST(ReduceKernelsTest, DivideByRoundsFloatsAndTruncatesIntegers) {
  std::mt19937_64 rng(4);
  for (int divisor : {1, 2, 3, 7, 8, 1000}) {
    std::vector<float> f(1031);
    std::vector<double> d(1031);
    std::vector<std::int32_t> i32(1031);
    std::vector<std::int64_t> i64(1031);
    std::vector<std::uint8_t> u8(1031);
    std::vector<std::uint16_t> h(1031), bf(1031);
    for (std::size_t i = 0; i < f.size(); ++i) {
      d[i] = std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
      f[i] = static_cast<float>(d[i]);
      i32[i] = static_cast<std::int32_t>(rng());
      i64[i] = static_cast<std::int64_t>(rng());
      u8[i] = static_cast<std::uint8_t>(rng());
      h[i] = static_cast<std::uint16_t>(rng() & 0x7bff);  // finite, any sign bit below
      bf[i] = static_cast<std::uint16_t>(rng() & 0x7f7f);
    }
    i32[0] = std::numeric_limits<std::int32_t>::min();
    i32[1] = std::numeric_limits<std::int32_t>::max();
    i32[2] = -7;
    ExpectDivided(DType::kFloat32, f, divisor);
    ExpectDivided(DType::kFloat64, d, divisor);
    ExpectDivided(DType::kInt32, i32, divisor);
    ExpectDivided(DType::kInt64, i64, divisor);
    ExpectDivided(DType::kUInt8, u8, divisor);
    ExpectDivided(DType::kFloat16, h, divisor);
    ExpectDivided(DType::kBFloat16, bf, divisor);
    if (divisor > 1) ExpectDivided(DType::kInt32, i32, -divisor);
  }
}

}  // namespace
}  // namespace train::internal
