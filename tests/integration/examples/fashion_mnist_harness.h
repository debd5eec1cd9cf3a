// Runs the Fashion-MNIST example as a user does: the real data imported to HDF5 by
// `trainctl data import idx`, the trainer started by `trainctl run`.
#ifndef TESTS_INTEGRATION_EXAMPLES_FASHION_MNIST_HARNESS_H_
#define TESTS_INTEGRATION_EXAMPLES_FASHION_MNIST_HARNESS_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "../../scratch_dir.h"

namespace fashion_mnist_test {

namespace fs = std::filesystem;

inline constexpr char kTrainctl[] = TRAINCTL_BINARY;
inline constexpr char kTrain[] = FASHION_MNIST_TRAIN;
inline constexpr char kDatasetDir[] = "/usr/share/datasets/fashion-mnist";

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

using ::train::testing::ScratchDir;

// Runs `command` with /bin/sh, without the launcher variables of the test's own environment
// (they would change who a worker thinks it is).
RunResult RunShell(const std::string& command);

// Single-quoted for the shell.
std::string Quote(const std::string& text);

// The Debian package's IDX files are there.
bool DatasetInstalled();

// The training and test sets as HDF5, imported once per test program into a directory that
// lives as long as the program; nullopt (and `error` set) when the import failed.
struct Hdf5Data {
  std::string train;
  std::string test;
};
std::optional<Hdf5Data> ImportedData(std::string* error);

// `trainctl run --nproc N --run-dir RUN_DIR TRAINCTL_FLAGS -- train --train-data ...
// --test-data ... TRAIN_ARGS`.
RunResult RunTrainer(const Hdf5Data& data, int nproc, const fs::path& run_dir,
                     const std::string& train_args, const std::string& trainctl_flags = "");

// The value of rank 0's `final NAME=VALUE` line, or "" when absent.
std::string FinalValue(const std::string& output, const std::string& name);

// Every number of a raw float32 file (--params-out).
std::vector<float> ReadFloats(const fs::path& path);

}  // namespace fashion_mnist_test

#define SKIP_WITHOUT_FASHION_MNIST(data)                                                  \
  std::string import_error_;                                                              \
  if (!::fashion_mnist_test::DatasetInstalled()) {                                        \
    GTEST_SKIP() << ::fashion_mnist_test::kDatasetDir                                     \
                 << " is missing: apt-get install dataset-fashion-mnist (scripts/setup)"; \
  }                                                                                       \
  const auto data = ::fashion_mnist_test::ImportedData(&import_error_);                   \
  ASSERT_TRUE(data.has_value()) << import_error_

#endif  // TESTS_INTEGRATION_EXAMPLES_FASHION_MNIST_HARNESS_H_
