// What the TCP group tests share: members as threads over one in-memory store, op contexts
// built by hand, and the collective dtypes with their elements' codec (element_values.h).
#ifndef TRAIN_TESTS_COLLECTIVES_TCP_TEST_SUPPORT_H_
#define TRAIN_TESTS_COLLECTIVES_TCP_TEST_SUPPORT_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/op_context.h"
#include "cpu/peer_group.h"
#include "cpu/tcp_group.h"
#include "element_values.h"
#include "train/store.h"

namespace train::internal::tcp_test {

inline const std::vector<DType> kCollectiveDTypes = {
    DType::kFloat32, DType::kFloat64, DType::kFloat16, DType::kBFloat16,
    DType::kInt32,   DType::kInt64,   DType::kUInt8};

using ::train::testing::GetElement;
using ::train::testing::SetElementRounded;
using ::train::testing::SetIntegerElement;

// An op context as a communicator would build it: the op, a deadline `timeout` from now, the
// abort flag, and a timeout error that lists the ranks it waited for: "... waited for [3, 5]".
OpContext MakeContext(CollectiveKind kind, DType dtype, std::uint64_t count,
                      std::chrono::milliseconds timeout, const std::atomic<bool>* aborted = nullptr,
                      std::uint64_t seq = 1);
// "waited for [3, 5]", as MakeContext's timeout error words it.
std::string WaitedFor(const std::vector<int>& ranks);

struct GroupOptions {
  std::string key_prefix = "test/tcp/";
  bool deterministic = false;
  std::size_t chunk_bytes = 0;
  std::chrono::milliseconds bootstrap_timeout{60000};
  // Communicator rank of member m: rank_offset + rank_stride * m.
  int rank_offset = 0;
  int rank_stride = 1;
  // Listen host of member m: listen_hosts[m % size()].
  std::vector<std::string> listen_hosts = {"127.0.0.1"};
};

TcpGroupConfig MakeConfig(Store* store, int member, int size, const GroupOptions& options);

// Runs body(member) on `size` threads at once and joins them.
void OnThreads(int size, const std::function<void(int member)>& body);

// Creates a group of `size` members as threads over `store`; fails the test on an error.
std::vector<std::unique_ptr<PeerGroup>> CreateGroups(Store* store, int size,
                                                     const GroupOptions& options = {});

}  // namespace train::internal::tcp_test

#endif  // TRAIN_TESTS_COLLECTIVES_TCP_TEST_SUPPORT_H_
