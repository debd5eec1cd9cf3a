// Ranks as threads: one communicator per rank over one in-memory store.
#ifndef TRAIN_TESTS_COLLECTIVES_RANK_THREADS_H_
#define TRAIN_TESTS_COLLECTIVES_RANK_THREADS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/communicator.h"

namespace train::testing {

struct World {
  std::unique_ptr<Store> store;
  std::vector<std::unique_ptr<Communicator>> comms;
};

// Creates `size` communicators at once (Create is collective). `host_of(rank)` gives each
// rank's host id ("" for detection).
World MakeWorld(int size, CommunicatorOptions options = {},
                const std::function<std::string(int)>& host_of = nullptr);

// Runs `body(rank)` on one thread per rank and joins them.
void OnEveryRank(int size, const std::function<void(int)>& body);

}  // namespace train::testing

#endif  // TRAIN_TESTS_COLLECTIVES_RANK_THREADS_H_
