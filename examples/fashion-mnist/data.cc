#include "data.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "mlp.h"

namespace fashion_mnist {
namespace {

constexpr char kImages[] = "images";
constexpr char kLabels[] = "labels";
constexpr char kHowToMake[] =
    "make it with `trainctl data import idx --images train-images-idx3-ubyte.gz --labels "
    "train-labels-idx1-ubyte.gz -o FILE.h5` (scripts/demo does)";
// Rows per read while warming the cache: large reads, a bounded temporary.
constexpr std::uint64_t kWarmRows = 4096;

train::Result<std::unique_ptr<train::Dataset>> OpenChecked(const std::string& path) {
  train::DatasetOptions options;
  options.fields = {kImages, kLabels};
  // Pixels stay bytes in the cache (a quarter of floats); labels of any integer type.
  options.read_as = {{kImages, train::DType::kUInt8}, {kLabels, train::DType::kInt64}};
  auto dataset = train::Dataset::Open(path, options);
  if (!dataset.ok()) {
    return dataset.status().WithContext(std::string("opening the Fashion-MNIST data; ") +
                                        kHowToMake);
  }
  for (const train::FieldInfo& field : (*dataset)->fields()) {
    if (field.name != kImages) continue;
    std::uint64_t pixels = 1;
    for (std::size_t d = 1; d < field.shape.size(); ++d) pixels *= field.shape[d];
    if (pixels != kInputs) {
      return train::InvalidArgumentError(
          path + ": field \"images\" holds " + std::to_string(pixels) +
          " values per image; this model takes 28x28 = 784; " + kHowToMake);
    }
  }
  return dataset;
}

// Batch rows -> `out` (sized by the caller): floats in [0, 1], labels checked.
train::Status Convert(const std::string& path, const train::Batch& batch, Examples& out) {
  const train::HostTensor& images = batch.at(kImages);
  const train::HostTensor& labels = batch.at(kLabels);
  const auto count = static_cast<int>(labels.num_elements());
  const std::uint8_t* pixels = images.data<std::uint8_t>();
  float* inputs = out.inputs.data();
  const std::size_t values = static_cast<std::size_t>(count) * kInputs;
  for (std::size_t i = 0; i < values; ++i) {
    inputs[i] = static_cast<float>(pixels[i]) * (1.0f / 255.0f);
  }
  const std::int64_t* label = labels.data<std::int64_t>();
  for (int i = 0; i < count; ++i) {
    if (label[i] < 0 || label[i] >= kClasses) {
      return train::DataLossError(path + ": label " + std::to_string(label[i]) +
                                  " is not a class in [0, " + std::to_string(kClasses) + ")");
    }
    out.labels[static_cast<std::size_t>(i)] = label[i];
  }
  return train::Status::Ok();
}

}  // namespace

train::Result<TrainingSet> TrainingSet::Open(const std::string& path, std::uint64_t limit) {
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<train::Dataset> dataset, OpenChecked(path));
  const std::uint64_t size = limit > 0 ? std::min(limit, dataset->size()) : dataset->size();
  std::vector<std::uint64_t> rows;
  for (std::uint64_t begin = 0; begin < size; begin += kWarmRows) {
    rows.resize(std::min(kWarmRows, size - begin));
    std::iota(rows.begin(), rows.end(), begin);
    TRAIN_ASSIGN_OR_RETURN(train::Batch ignored, dataset->Read(rows));
    static_cast<void>(ignored);
  }
  return TrainingSet(std::move(dataset), size);
}

train::Status TrainingSet::Gather(const std::vector<std::uint64_t>& indices, Examples& out) {
  TRAIN_ASSIGN_OR_RETURN(train::Batch batch, dataset_->Read(indices));
  out.count = static_cast<int>(indices.size());
  out.inputs.resize(indices.size() * kInputs);
  out.labels.resize(indices.size());
  return Convert(dataset_->path(), batch, out);
}

train::Result<Examples> LoadTestShard(const std::string& path, int rank, int world) {
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<train::Dataset> dataset, OpenChecked(path));
  std::vector<std::uint64_t> rows;
  for (std::uint64_t row = static_cast<std::uint64_t>(rank); row < dataset->size();
       row += static_cast<std::uint64_t>(world)) {
    rows.push_back(row);
  }
  Examples shard;
  shard.count = static_cast<int>(rows.size());
  shard.inputs.resize(rows.size() * kInputs);
  shard.labels.resize(rows.size());
  TRAIN_ASSIGN_OR_RETURN(train::Batch batch, dataset->Read(rows));
  TRAIN_RETURN_IF_ERROR(Convert(path, batch, shard));
  return shard;
}

}  // namespace fashion_mnist
