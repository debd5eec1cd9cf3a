#include "checkpoint_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace train::testing {

namespace fs = std::filesystem;

void OnRanks(int size, const std::function<void(int, Communicator*)>& body) {
  auto store = NewInMemoryStore();
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank) {
    threads.emplace_back([&, rank] {
      CommunicatorOptions options;
      options.backend = CommBackend::kCpu;
      options.listen_host = "127.0.0.1";
      auto comm = Communicator::Create(store.get(), rank, size, options);
      ASSERT_TRUE(comm.ok()) << "rank " << rank << ": " << comm.status();
      body(rank, comm->get());
    });
  }
  for (auto& thread : threads) thread.join();
}

void OwnedState::RebuildViews() {
  state.tensors.clear();
  for (OwnedTensor& t : tensors) {
    TensorView view{t.bytes.data(), t.dtype, t.bytes.size() / DTypeSize(t.dtype)};
    state.tensors.push_back({t.name, view, t.shape, t.replicated, t.offset});
  }
}

std::vector<std::byte> PatternBytes(std::size_t size, std::uint64_t seed) {
  std::vector<std::byte> bytes(size);
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (std::size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    bytes[i] = static_cast<std::byte>(x);
  }
  return bytes;
}

OwnedState MakeState(int rank, int world, std::uint64_t sharded_numel, std::uint64_t seed,
                     bool zero) {
  OwnedState owned;
  const DType dtypes[] = {DType::kFloat32,  DType::kFloat64, DType::kFloat16,
                          DType::kBFloat16, DType::kInt8,    DType::kUInt8,
                          DType::kInt16,    DType::kInt32,   DType::kInt64};
  int index = 0;
  for (DType dtype : dtypes) {
    const std::string name =
        "model/layer" + std::to_string(index) + "/" + std::string(DTypeName(dtype));
    const std::vector<std::uint64_t> shape = {3, static_cast<std::uint64_t>(index + 1), 5};
    const std::size_t bytes = 3 * (index + 1) * 5 * DTypeSize(dtype);
    owned.tensors.push_back(
        {name, dtype, shape, true, 0,
         zero ? std::vector<std::byte>(bytes) : PatternBytes(bytes, seed + index)});
    ++index;
  }
  owned.tensors.push_back({"bias",
                           DType::kFloat32,
                           {},
                           true,
                           0,
                           zero ? std::vector<std::byte>(28) : PatternBytes(28, seed + 100)});
  // The sharded tensor: rank r holds an even share; the pattern is of the global tensor.
  const std::uint64_t begin = sharded_numel * rank / world;
  const std::uint64_t end = sharded_numel * (rank + 1) / world;
  const auto global = PatternBytes(sharded_numel * 4, seed + 200);
  std::vector<std::byte> mine(global.begin() + begin * 4, global.begin() + end * 4);
  if (zero) std::fill(mine.begin(), mine.end(), std::byte{0});
  owned.tensors.push_back(
      {"embedding", DType::kFloat32, {sharded_numel / 4, 4}, false, begin, std::move(mine)});
  owned.RebuildViews();
  if (!zero) {
    OptimizerState optimizer;
    optimizer.step = 42 + static_cast<std::int64_t>(seed);
    for (int i = 0; i < 5; ++i) {
      optimizer.names.push_back("group0/param" + std::to_string(i) + "/exp_avg");
      optimizer.buffers.push_back(PatternBytes(100 + i * 17, seed + 300 + i));
    }
    optimizer.names.push_back("group0/empty");
    optimizer.buffers.emplace_back();
    owned.state.optimizer = optimizer;
    owned.state.sampler = SamplerState{3, 1024 + seed};
    owned.state.rng["torch"] = "rank " + std::to_string(rank) + " state " + std::to_string(seed);
    owned.state.rng["numpy/global"] = std::string(64, static_cast<char>('a' + rank));
    owned.state.metadata["loss"] = "0.25";
    owned.state.metadata["seed"] = std::to_string(seed);
  }
  return owned;
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace train::testing
