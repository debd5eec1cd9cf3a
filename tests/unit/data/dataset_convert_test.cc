// Type conversion on read: HDF5's for the numeric types, round-to-nearest-even for the 16-bit
// floats; and stored types other than the native little-endian ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "../../scratch_dir.h"
#include "dataset_test_files.h"
#include "train/dataset.h"

namespace train {
namespace {

using ::testing::HasSubstr;

// The value of 16-bit float `bits` with `e` exponent and `m` mantissa bits.
double Decode(std::uint16_t bits, int e, int m) {
  const int bias = (1 << (e - 1)) - 1;
  const int exp = (bits >> m) & ((1 << e) - 1);
  const int mant = bits & ((1 << m) - 1);
  const double v =
      exp == 0 ? std::ldexp(mant, 1 - bias - m) : std::ldexp((1 << m) + mant, exp - bias - m);
  return (bits >> (e + m)) != 0 ? -v : v;
}

// A reference rounding by search: the nearest value of the format, ties to the even bit
// pattern; beyond the largest finite value the next one is infinity (2^(emax+1)).
std::uint16_t Nearest(double x, int e, int m) {
  const std::uint16_t sign = std::signbit(x) ? static_cast<std::uint16_t>(1u << (e + m)) : 0;
  const double a = std::fabs(x);
  const unsigned inf_bits = ((1u << e) - 1) << m;
  const auto value = [&](unsigned b) {
    return b == inf_bits ? std::ldexp(1.0, (1 << e) - 1 - ((1 << (e - 1)) - 1))
                         : Decode(static_cast<std::uint16_t>(b), e, m);
  };
  if (a >= value(inf_bits)) return static_cast<std::uint16_t>(sign | inf_bits);
  unsigned lo = 0, hi = inf_bits;  // the first b with value(b) >= a
  while (lo < hi) {
    const unsigned mid = (lo + hi) / 2;
    if (value(mid) >= a)
      hi = mid;
    else
      lo = mid + 1;
  }
  unsigned b = lo;
  if (value(b) != a) {
    const double up = value(b) - a, down = a - value(b - 1);
    if (down < up || (down == up && (b & 1) != 0)) b = b - 1;
  }
  return static_cast<std::uint16_t>(sign | b);
}

class DatasetConvertTest : public ::testing::Test {
 protected:
  Result<Batch> ReadAll(const std::string& path, const std::string& field, DType as,
                        std::uint64_t rows) {
    DatasetOptions options;
    options.fields = {field};
    options.read_as[field] = as;
    auto dataset = Dataset::Open(path, options);
    if (!dataset.ok()) return dataset.status();
    EXPECT_EQ((*dataset)->fields()[0].dtype, as);
    std::vector<std::uint64_t> all(rows);
    for (std::uint64_t i = 0; i < rows; ++i) all[i] = rows - 1 - i;  // reversed: scattered
    return (*dataset)->Read(all);
  }

  testing::ScratchDir dir_;
};

TEST_F(DatasetConvertTest, Uint8ImagesReadAsFloat32) {
  const std::string path = dir_ / "mnist.h5";
  testing::WriteMnistLike(path, 100);
  Result<Batch> batch = ReadAll(path, "images", DType::kFloat32, 100);
  ASSERT_TRUE(batch.ok()) << batch.status();
  const HostTensor& images = batch->at("images");
  EXPECT_EQ(images.bytes.size(), 100u * 28 * 28 * sizeof(float));
  const float* pixels = images.data<float>();
  for (std::uint64_t i = 0; i < 100; ++i) {
    for (int p = 0; p < 28 * 28; ++p) {
      ASSERT_EQ(pixels[i * 784 + p],
                static_cast<float>(testing::ImageValue(99 - i, p / 28, p % 28)));
    }
  }
}

TEST_F(DatasetConvertTest, Int64LabelsReadAsInt32) {
  const std::string path = dir_ / "mnist.h5";
  testing::WriteMnistLike(path, 100);
  Result<Batch> batch = ReadAll(path, "labels", DType::kInt32, 100);
  ASSERT_TRUE(batch.ok()) << batch.status();
  const std::int32_t* labels = batch->at("labels").data<std::int32_t>();
  for (std::uint64_t i = 0; i < 100; ++i) ASSERT_EQ(labels[i], testing::LabelValue(99 - i));
}

TEST_F(DatasetConvertTest, NarrowingIntegersSaturate) {
  const std::string path = dir_ / "wide.h5";
  const std::vector<std::int64_t> values = {5, 3'000'000'000, -3'000'000'000};
  testing::WriteFile(path, {{"v", H5T_STD_I64LE, H5T_NATIVE_INT64, {3}, values.data(), {}}});
  Result<Batch> batch = ReadAll(path, "v", DType::kInt32, 3);
  ASSERT_TRUE(batch.ok()) << batch.status();
  const std::int32_t* v = batch->at("v").data<std::int32_t>();
  EXPECT_EQ(v[2], 5);
  EXPECT_EQ(v[1], std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(v[0], std::numeric_limits<std::int32_t>::min());
}

// Rounding float32 to float16 and bfloat16 matches a search for the nearest value (ties to
// even), over special values, ties, subnormals, overflow and random bit patterns.
TEST_F(DatasetConvertTest, Float32ReadAsHalfRoundsToNearestEven) {
  using Limits = std::numeric_limits<float>;
  std::vector<float> values = {0.0f, -0.0f, 1.0f, -1.0f, 0.1f, Limits::max(), -1e10f};
  // float16: the largest finite value, just below and at the tie with infinity.
  values.insert(values.end(), {65504.0f, 65519.99f, 65520.0f});
  // Ties: between 1 and the next float16, the next bfloat16, and 2048 and 2050 in float16.
  values.insert(values.end(), {1.0f + 0x1p-11f, 1.0f + 0x1p-8f, 2049.0f});
  // float16 subnormals: the smallest, a tie with zero, a tie above it, the smallest normal
  // and a value that rounds up to it.
  values.insert(values.end(), {0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f, 0x1.ff8p-15f});
  values.insert(values.end(), {Limits::infinity(), -Limits::infinity(), Limits::quiet_NaN(),
                               -Limits::quiet_NaN(), Limits::denorm_min()});
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i)
    values.push_back(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
  std::uniform_real_distribution<float> near_range(-70000.0f, 70000.0f);
  std::uniform_real_distribution<float> tiny(-1e-4f, 1e-4f);
  for (int i = 0; i < 20000; ++i) values.push_back(near_range(rng));
  for (int i = 0; i < 5000; ++i) values.push_back(tiny(rng));
  const std::string path = dir_ / "floats.h5";
  testing::WriteFile(
      path, {{"x", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {values.size()}, values.data(), {256}}});

  for (const auto& [dtype, e, m] :
       {std::tuple{DType::kFloat16, 5, 10}, std::tuple{DType::kBFloat16, 8, 7}}) {
    Result<Batch> batch = ReadAll(path, "x", dtype, values.size());
    ASSERT_TRUE(batch.ok()) << batch.status();
    const std::uint16_t* out = batch->at("x").data<std::uint16_t>();
    for (std::size_t i = 0; i < values.size(); ++i) {
      const float x = values[values.size() - 1 - i];
      const std::uint16_t got = out[i];
      if (std::isnan(x)) {
        EXPECT_TRUE(std::isnan(Decode(got, e, m)) || ((got >> m) & ((1 << e) - 1)) == (1 << e) - 1)
            << "NaN in, " << got << " out";
        EXPECT_EQ(got >> (e + m), std::signbit(x) ? 1 : 0);
        continue;
      }
      ASSERT_EQ(got, Nearest(x, e, m))
          << DTypeName(dtype) << " of " << x << " (bits " << std::bit_cast<std::uint32_t>(x) << ")";
    }
  }
}

TEST_F(DatasetConvertTest, Float64ReadAsBFloat16RoundsOnce) {
  // Through float32 this would round twice (to 1 + 2^-8, then a tie down to 1.0).
  const std::vector<double> values = {1.0 + 0x1p-8 + 0x1p-30};
  const std::string path = dir_ / "double.h5";
  testing::WriteFile(path, {{"x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {1}, values.data(), {}}});
  Result<Batch> batch = ReadAll(path, "x", DType::kBFloat16, 1);
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(batch->at("x").data<std::uint16_t>()[0], 0x3F81);  // 1 + 2^-7
}

TEST_F(DatasetConvertTest, StoredFloat16IsReadAsStoredOrWidened) {
  const std::vector<std::uint16_t> bits = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x2E66, 0x8000};
  const std::string path = dir_ / "half.h5";
  const hid_t half = testing::NewFloat16Type();
  testing::WriteFile(path, {{"h", half, half, {bits.size()}, bits.data(), {4}, 1}});
  testing::CloseType(half);
  auto dataset = Dataset::Open(path);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ((*dataset)->fields()[0].dtype, DType::kFloat16);
  EXPECT_EQ((*dataset)->fields()[0].stored_type, "float16");
  Result<Batch> as_stored = (*dataset)->Read({0, 1, 2, 3, 4, 5});
  ASSERT_TRUE(as_stored.ok()) << as_stored.status();
  const std::uint16_t* h = as_stored->at("h").data<std::uint16_t>();
  EXPECT_EQ(std::vector<std::uint16_t>(h, h + bits.size()), bits);

  Result<Batch> as_float = ReadAll(path, "h", DType::kFloat32, bits.size());
  ASSERT_TRUE(as_float.ok()) << as_float.status();
  Result<Batch> as_bfloat = ReadAll(path, "h", DType::kBFloat16, bits.size());
  ASSERT_TRUE(as_bfloat.ok()) << as_bfloat.status();
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const double value = Decode(bits[bits.size() - 1 - i], 5, 10);
    EXPECT_EQ(as_float->at("h").data<float>()[i], static_cast<float>(value)) << i;
    EXPECT_EQ(as_bfloat->at("h").data<std::uint16_t>()[i], Nearest(value, 8, 7)) << i;
  }
}

TEST_F(DatasetConvertTest, BigEndianAndUint16FieldsAreConverted) {
  const std::vector<std::int32_t> big = {-7, 1 << 20, 42};
  const std::vector<std::uint16_t> wide = {0, 65535, 40000};
  const std::string path = dir_ / "types.h5";
  testing::WriteFile(path, {{"big", H5T_STD_I32BE, H5T_NATIVE_INT32, {3}, big.data(), {}},
                            {"wide", H5T_STD_U16LE, H5T_NATIVE_UINT16, {3}, wide.data(), {2}}});
  DatasetOptions options;
  options.read_as["wide"] = DType::kInt32;  // uint16 has no train::DType
  auto dataset = Dataset::Open(path, options);
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  EXPECT_EQ((*dataset)->fields()[0].stored_type, "int32 big-endian");
  EXPECT_EQ((*dataset)->fields()[1].stored_type, "uint16");
  Result<Batch> batch = (*dataset)->Read({2, 0, 1});
  ASSERT_TRUE(batch.ok()) << batch.status();
  const std::int32_t* b = batch->at("big").data<std::int32_t>();
  const std::int32_t* w = batch->at("wide").data<std::int32_t>();
  EXPECT_EQ(std::vector<std::int32_t>(b, b + 3), (std::vector<std::int32_t>{42, -7, 1 << 20}));
  EXPECT_EQ(std::vector<std::int32_t>(w, w + 3), (std::vector<std::int32_t>{40000, 0, 65535}));
}

TEST_F(DatasetConvertTest, DataOfTheWrongElementTypeAborts) {
  HostTensor tensor;
  tensor.dtype = DType::kUInt8;
  tensor.shape = {1};
  tensor.bytes.resize(1);
  EXPECT_DEATH(tensor.data<float>(), HasSubstr("dtype uint8"));
}

}  // namespace
}  // namespace train
