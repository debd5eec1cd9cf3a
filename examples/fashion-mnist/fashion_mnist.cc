#include "fashion_mnist.h"

#include <filesystem>
#include <string_view>
#include <utility>

#include "idx_reader.h"

namespace fashion_mnist {
namespace {

constexpr char kInstallHint[] =
    "install the data set with `apt-get install dataset-fashion-mnist`, or pass --data-dir";

// NAME.gz if present, else NAME.
train::Result<std::string> FindFile(const std::string& data_dir, std::string_view name) {
  const std::filesystem::path base = std::filesystem::path(data_dir) / name;
  const std::string gz = base.string() + ".gz";
  std::error_code ec;
  if (std::filesystem::exists(gz, ec)) return gz;
  if (std::filesystem::exists(base, ec)) return base.string();
  return train::NotFoundError("neither " + gz + " nor " + base.string() + " exists; " +
                              kInstallHint);
}

}  // namespace

train::Result<Dataset> LoadDataset(const std::string& data_dir, Split split, int64_t limit) {
  std::error_code ec;
  if (!std::filesystem::is_directory(data_dir, ec)) {
    return train::NotFoundError("data directory " + data_dir + " does not exist; " + kInstallHint);
  }
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  TRAIN_ASSIGN_OR_RETURN(const std::string images_path,
                         FindFile(data_dir, prefix + "-images-idx3-ubyte"));
  TRAIN_ASSIGN_OR_RETURN(const std::string labels_path,
                         FindFile(data_dir, prefix + "-labels-idx1-ubyte"));
  TRAIN_ASSIGN_OR_RETURN(IdxArray images, ReadIdx(images_path));
  TRAIN_ASSIGN_OR_RETURN(IdxArray labels, ReadIdx(labels_path));

  if (images.dims.size() != 3) {
    return train::DataLossError(images_path + ": expected 3 dimensions (count, rows, cols), got " +
                                std::to_string(images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    return train::DataLossError(labels_path + ": expected 1 dimension (count), got " +
                                std::to_string(labels.dims.size()));
  }
  if (images.dims[0] != labels.dims[0]) {
    return train::DataLossError(images_path + " holds " + std::to_string(images.dims[0]) +
                                " images but " + labels_path + " holds " +
                                std::to_string(labels.dims[0]) + " labels");
  }
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= kNumClasses) {
      return train::DataLossError(labels_path + ": label " + std::to_string(labels.data[i]) +
                                  " at index " + std::to_string(i) + " is not a class in [0, " +
                                  std::to_string(kNumClasses) + ")");
    }
  }

  Dataset dataset;
  dataset.size = images.dims[0];
  dataset.rows = static_cast<int>(images.dims[1]);
  dataset.cols = static_cast<int>(images.dims[2]);
  if (limit > 0 && limit < dataset.size) {
    dataset.size = limit;
    images.data.resize(static_cast<size_t>(limit) * dataset.pixels_per_image());
    labels.data.resize(static_cast<size_t>(limit));
  }
  dataset.pixels = std::move(images.data);
  dataset.labels = std::move(labels.data);
  return dataset;
}

}  // namespace fashion_mnist
