#include "fashion_mnist_harness.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

extern char** environ;

namespace fashion_mnist_test {
namespace {

std::string UnsetLauncherVariables() {
  static const char* const kTorchNames[] = {
      "RANK",       "WORLD_SIZE",  "LOCAL_RANK", "LOCAL_WORLD_SIZE",
      "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT"};
  std::string unset;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string name(*entry, std::strcspn(*entry, "="));
    bool drop = name.rfind("TRAIN_", 0) == 0 || name.rfind("OMPI_", 0) == 0;
    for (const char* torch : kTorchNames) drop = drop || name == torch;
    if (drop) unset += " -u " + name;
  }
  return unset;
}

}  // namespace

std::string Quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

RunResult RunShell(const std::string& command) {
  const std::string full = "env" + UnsetLauncherVariables() + " sh -c " + Quote(command) + " 2>&1";
  RunResult result;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) {
    result.output = "popen failed: " + std::string(std::strerror(errno));
    return result;
  }
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool DatasetInstalled() {
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    if (!fs::exists(fs::path(kDatasetDir) / name)) return false;
  }
  return true;
}

std::optional<Hdf5Data> ImportedData(std::string* error) {
  // Imported once; the directory goes when the program ends.
  static ScratchDir* const dir = new ScratchDir();
  static std::optional<Hdf5Data> data;
  static std::string failure;
  static bool tried = false;
  if (!tried) {
    tried = true;
    Hdf5Data paths{(dir->path() / "train.h5").string(), (dir->path() / "test.h5").string()};
    for (const auto& [prefix, out] :
         {std::pair<std::string, std::string>{"train", paths.train}, {"t10k", paths.test}}) {
      const std::string base = std::string(kDatasetDir) + "/" + prefix;
      const RunResult import = RunShell(
          Quote(kTrainctl) + " data import idx --images " + Quote(base + "-images-idx3-ubyte.gz") +
          " --labels " + Quote(base + "-labels-idx1-ubyte.gz") + " -o " + Quote(out));
      if (import.exit_code != 0) {
        failure = "trainctl data import idx " + prefix + " failed:\n" + import.output;
        break;
      }
    }
    if (failure.empty()) data = paths;
    std::atexit([] { delete dir; });
  }
  if (!data) *error = failure;
  return data;
}

RunResult RunTrainer(const Hdf5Data& data, int nproc, const fs::path& run_dir,
                     const std::string& train_args, const std::string& trainctl_flags) {
  return RunShell(Quote(kTrainctl) + " run --nproc " + std::to_string(nproc) + " --run-dir " +
                  Quote(run_dir.string()) + " " + trainctl_flags + " -- " + Quote(kTrain) +
                  " --train-data " + Quote(data.train) + " --test-data " + Quote(data.test) + " " +
                  train_args);
}

std::string FinalValue(const std::string& output, const std::string& name) {
  const std::regex line("final " + name + "=(\\S+)");
  std::smatch match;
  return std::regex_search(output, match, line) ? match[1].str() : std::string();
}

std::vector<float> ReadFloats(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

}  // namespace fashion_mnist_test
