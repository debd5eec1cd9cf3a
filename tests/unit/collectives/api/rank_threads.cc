#include "rank_threads.h"

#include <gtest/gtest.h>

#include <thread>

namespace train::testing {

void OnEveryRank(int size, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank) threads.emplace_back(body, rank);
  for (auto& thread : threads) thread.join();
}

World MakeWorld(int size, CommunicatorOptions options,
                const std::function<std::string(int)>& host_of) {
  World world;
  world.store = NewInMemoryStore();
  world.comms.resize(size);
  if (options.backend == CommBackend::kAuto) options.backend = CommBackend::kCpu;
  OnEveryRank(size, [&](int rank) {
    CommunicatorOptions mine = options;
    if (host_of) mine.host_id = host_of(rank);
    mine.listen_host = "127.0.0.1";
    auto comm = Communicator::Create(world.store.get(), rank, size, mine);
    ASSERT_TRUE(comm.ok()) << "rank " << rank << ": " << comm.status();
    world.comms[rank] = std::move(*comm);
  });
  return world;
}

}  // namespace train::testing
