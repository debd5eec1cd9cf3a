#include "tcp_test_support.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <sstream>
#include <thread>

#include "data/float_convert.h"

namespace train::internal::tcp_test {
namespace {

float HalfToFloat(std::uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  const double sign = (bits & 0x8000) != 0 ? -1.0 : 1.0;
  if (exponent == 31) return static_cast<float>(mantissa == 0 ? sign * INFINITY : NAN);
  if (exponent == 0) return static_cast<float>(sign * std::ldexp(mantissa, -24));
  return static_cast<float>(sign * std::ldexp(1024 + mantissa, exponent - 25));
}

template <typename T>
void Put(T value, std::byte* element) {
  std::memcpy(element, &value, sizeof(T));
}

template <typename T>
T Get(const std::byte* element) {
  T value;
  std::memcpy(&value, element, sizeof(T));
  return value;
}

}  // namespace

void StoreInteger(DType dtype, std::int64_t value, std::byte* element) {
  switch (dtype) {
    case DType::kInt32:
      return Put(static_cast<std::int32_t>(value), element);
    case DType::kInt64:
      return Put(value, element);
    case DType::kUInt8:
      return Put(static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) & 0xff), element);
    default:
      return StoreDouble(dtype, static_cast<double>(value), element);
  }
}

void StoreDouble(DType dtype, double value, std::byte* element) {
  switch (dtype) {
    case DType::kFloat32:
      return Put(static_cast<float>(value), element);
    case DType::kFloat64:
      return Put(value, element);
    case DType::kFloat16:
      return Put(ToFloat16(value), element);
    case DType::kBFloat16:
      return Put(ToBFloat16(value), element);
    default:
      return StoreInteger(dtype, static_cast<std::int64_t>(value), element);
  }
}

double LoadDouble(DType dtype, const std::byte* element) {
  switch (dtype) {
    case DType::kFloat32:
      return Get<float>(element);
    case DType::kFloat64:
      return Get<double>(element);
    case DType::kFloat16:
      return HalfToFloat(Get<std::uint16_t>(element));
    case DType::kBFloat16:
      return std::bit_cast<float>(static_cast<std::uint32_t>(Get<std::uint16_t>(element)) << 16);
    case DType::kInt32:
      return Get<std::int32_t>(element);
    case DType::kInt64:
      return static_cast<double>(Get<std::int64_t>(element));
    case DType::kUInt8:
      return Get<std::uint8_t>(element);
    default:
      return NAN;
  }
}

std::string WaitedFor(const std::vector<int>& ranks) {
  std::ostringstream text;
  text << "waited for [";
  for (std::size_t i = 0; i < ranks.size(); ++i) text << (i == 0 ? "" : ", ") << ranks[i];
  text << "]";
  return text.str();
}

OpContext MakeContext(CollectiveKind kind, DType dtype, std::uint64_t count,
                      std::chrono::milliseconds timeout, const std::atomic<bool>* aborted,
                      std::uint64_t seq) {
  OpContext ctx;
  ctx.op.kind = kind;
  ctx.op.dtype = dtype;
  ctx.op.count = count;
  ctx.op.seq = seq;
  ctx.started = std::chrono::steady_clock::now();
  ctx.deadline = ctx.started + timeout;
  ctx.aborted = aborted;
  const OpRecord op = ctx.op;
  ctx.timeout_error = [op](const std::vector<int>& ranks) {
    return DeadlineExceededError(op.Describe() + " timed out: " + WaitedFor(ranks));
  };
  return ctx;
}

TcpGroupConfig MakeConfig(Store* store, int member, int size, const GroupOptions& options) {
  TcpGroupConfig config;
  config.store = store;
  config.key_prefix = options.key_prefix;
  config.member = member;
  config.size = size;
  for (int m = 0; m < size; ++m) {
    config.comm_ranks.push_back(options.rank_offset + options.rank_stride * m);
  }
  config.listen_host =
      options.listen_hosts[static_cast<std::size_t>(member) % options.listen_hosts.size()];
  config.deterministic = options.deterministic;
  config.chunk_bytes = options.chunk_bytes;
  config.deadline = std::chrono::steady_clock::now() + options.bootstrap_timeout;
  return config;
}

void OnThreads(int size, const std::function<void(int member)>& body) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(size));
  for (int m = 0; m < size; ++m) threads.emplace_back(body, m);
  for (std::thread& thread : threads) thread.join();
}

std::vector<std::unique_ptr<PeerGroup>> CreateGroups(Store* store, int size,
                                                     const GroupOptions& options) {
  std::vector<std::unique_ptr<PeerGroup>> groups(static_cast<std::size_t>(size));
  OnThreads(size, [&](int member) {
    auto group = CreateTcpGroup(MakeConfig(store, member, size, options));
    ASSERT_TRUE(group.ok()) << "member " << member << ": " << group.status();
    groups[static_cast<std::size_t>(member)] = std::move(*group);
  });
  return groups;
}

}  // namespace train::internal::tcp_test
