// Shared pieces of the checkpoint tests: ranks as threads over one in-memory store, and a state
// whose every byte is known.
#ifndef TRAIN_TESTS_UNIT_CHECKPOINT_CHECKPOINT_TEST_UTIL_H_
#define TRAIN_TESTS_UNIT_CHECKPOINT_CHECKPOINT_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/checkpoint.h"
#include "train/communicator.h"
#include "train/store.h"

namespace train::testing {

// Runs body(rank, comm) on `size` threads, each with a CPU communicator over one store.
void OnRanks(int size, const std::function<void(int rank, Communicator* comm)>& body);

// Owns the memory behind a CheckpointState's views.
struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<std::uint64_t> shape;
  bool replicated = true;
  std::uint64_t offset = 0;
  std::vector<std::byte> bytes;
};

struct OwnedState {
  std::vector<OwnedTensor> tensors;
  CheckpointState state;  // views into `tensors`, plus the rest
  void RebuildViews();
};

// Bytes that depend on (seed, index), so a misplaced element shows.
std::vector<std::byte> PatternBytes(std::size_t size, std::uint64_t seed);

// A state on `rank` of `world`: replicated tensors of every dtype, a sharded float32 tensor of
// `sharded_numel` elements split evenly, optimizer, sampler, rng and metadata. `zero`: the
// same layout with every tensor byte 0 and the rest empty (to load into).
OwnedState MakeState(int rank, int world, std::uint64_t sharded_numel, std::uint64_t seed,
                     bool zero);

std::vector<std::string> DirEntries(const std::string& dir);
std::string ReadText(const std::string& path);

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_CHECKPOINT_CHECKPOINT_TEST_UTIL_H_
