#include "tcp_test_support.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

namespace train::internal::tcp_test {

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
