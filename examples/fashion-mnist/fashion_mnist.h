// The Fashion-MNIST data set as the Debian package `dataset-fashion-mnist` installs it.
#ifndef EXAMPLES_FASHION_MNIST_FASHION_MNIST_H_
#define EXAMPLES_FASHION_MNIST_FASHION_MNIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "train/status.h"

namespace fashion_mnist {

inline constexpr char kDefaultDataDir[] = "/usr/share/datasets/fashion-mnist";
inline constexpr int kNumClasses = 10;

enum class Split { kTrain, kTest };

// Images stay as bytes (a quarter of the memory of floats); the trainer scales them when it
// assembles a batch.
struct Dataset {
  int64_t size = 0;  // number of samples
  int rows = 0;
  int cols = 0;
  std::vector<uint8_t> pixels;  // size * rows * cols, row-major, 0 (background) to 255
  std::vector<uint8_t> labels;  // size, each < kNumClasses

  int pixels_per_image() const { return rows * cols; }
  const uint8_t* image(int64_t i) const { return &pixels[i * pixels_per_image()]; }
};

// Loads `train-*` or `t10k-*` from `data_dir`, preferring `NAME.gz` and falling back to the
// unpacked `NAME`. `limit` > 0 keeps only the first `limit` samples. Errors name the path and,
// when the data is missing, the package that provides it.
train::Result<Dataset> LoadDataset(const std::string& data_dir, Split split, int64_t limit = 0);

}  // namespace fashion_mnist

#endif  // EXAMPLES_FASHION_MNIST_FASHION_MNIST_H_
