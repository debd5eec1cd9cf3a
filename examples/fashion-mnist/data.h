// Fashion-MNIST as `trainctl data import idx` writes it: an HDF5 file with `images` (uint8
// [N, 28, 28]) and `labels` (integers [N]), read through train::Dataset.
#ifndef EXAMPLES_FASHION_MNIST_DATA_H_
#define EXAMPLES_FASHION_MNIST_DATA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/dataset.h"
#include "train/status.h"

namespace fashion_mnist {

// A batch ready for the model: pixels scaled to [0, 1].
struct Examples {
  int count = 0;
  std::vector<float> inputs;         // count x kInputs
  std::vector<std::int64_t> labels;  // count, each in [0, kClasses)
};

// The training set, read by row index in the sampler's order.
class TrainingSet {
 public:
  // Opens `path` and checks its fields (the error names the file, the field and how to make a
  // good one). `limit` > 0 keeps the first `limit` rows. Reads the file once from start to end
  // so that later, shuffled reads find every row in the Dataset's cache of decompressed chunks.
  static train::Result<TrainingSet> Open(const std::string& path, std::uint64_t limit);

  std::uint64_t size() const { return size_; }

  // The rows `indices` (the order kept), into `out`.
  train::Status Gather(const std::vector<std::uint64_t>& indices, Examples& out);

 private:
  TrainingSet(std::unique_ptr<train::Dataset> dataset, std::uint64_t size)
      : dataset_(std::move(dataset)), size_(size) {}
  std::unique_ptr<train::Dataset> dataset_;
  std::uint64_t size_ = 0;
};

// Rows rank, rank + world, ... of the test set at `path`: this rank's share of the evaluation.
train::Result<Examples> LoadTestShard(const std::string& path, int rank, int world);

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_DATA_H_
