// Fuzz target: bytes as a checkpoint's manifest.json. Each input is parsed and validated
// (ParseManifest, ValidateManifest), then written into a real checkpoint of a tiny state (made
// once by a real save, in a temporary directory) and checked there as `trainctl ckpt verify`
// and `inspect` do; an input that passes the manifest checks is also loaded, which reads the
// files and quarantines the step when they do not match (the step is then put back). None of
// it may crash, throw, hang, or allocate what the manifest's numbers ask for.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "../../checkpoint/manifest.h"
#include "train/checkpoint.h"
#include "train/log.h"

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kStep = 7;

// The tiny state: two tensors, an optimizer buffer, a sampler, an RNG state and metadata.
struct TinyState {
  std::vector<float> weight = std::vector<float>(12, 0.5f);
  std::vector<std::int32_t> counts = std::vector<std::int32_t>(5, 3);
  train::CheckpointState state;
  explicit TinyState(bool with_rest) {
    state.tensors = {{"layer/weight", {weight.data(), train::DType::kFloat32, 12}, {3, 4}, true, 0},
                     {"counts", {counts.data(), train::DType::kInt32, 5}, {}, true, 0}};
    if (!with_rest) return;
    train::OptimizerState optimizer;
    optimizer.step = kStep;
    optimizer.names = {"group0/exp_avg"};
    optimizer.buffers = {std::vector<std::byte>(48, std::byte{1})};
    state.optimizer = optimizer;
    state.sampler = train::SamplerState{1, 64};
    state.rng["torch"] = "state";
    state.metadata["model"] = "tiny";
  }
};

class TinyCheckpoint {
 public:
  TinyCheckpoint() {
    train::SetLogLevel(train::LogLevel::kOff);
    std::string pattern = (fs::temp_directory_path() / "ckpt-manifest-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
    step_dir_ = dir_ + "/step-" + std::to_string(kStep);
    auto ckpt = Open();
    TinyState state(true);
    if (ckpt == nullptr || !ckpt->Save(kStep, state.state).ok()) std::abort();
  }
  ~TinyCheckpoint() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void Check(const std::string& text) {
    const train::Result<train::internal::Manifest> manifest =
        train::internal::ParseManifest(text, "input");
    const bool consistent =
        manifest.ok() && train::internal::ValidateManifest(*manifest, "input", kStep).ok();
    std::ofstream(step_dir_ + "/" + train::internal::kManifestName,
                  std::ios::binary | std::ios::trunc)
        << text;
    static_cast<void>(train::VerifyCheckpoint(step_dir_));
    static_cast<void>(train::InspectCheckpoint(step_dir_));
    static_cast<void>(train::ListCheckpoints(dir_));
    if (!consistent) return;
    if (auto ckpt = Open()) {
      TinyState into(false);
      static_cast<void>(ckpt->Load(kStep, into.state));
    }
    PutBack();
  }

 private:
  std::unique_ptr<train::Checkpointer> Open() {
    train::CheckpointOptions options;
    options.async = false;
    auto ckpt = train::Checkpointer::Open(dir_, nullptr, options);
    return ckpt.ok() ? std::move(*ckpt) : nullptr;
  }

  // A load that quarantined the step: rename it back for the next input.
  void PutBack() {
    auto quarantined = train::ListQuarantinedCheckpoints(dir_);
    if (!quarantined.ok()) return;
    for (const auto& q : *quarantined) {
      std::error_code ignored;
      fs::remove(q.path + "/QUARANTINE.txt", ignored);
      fs::rename(q.path, step_dir_, ignored);
    }
  }

  std::string dir_;
  std::string step_dir_;
};

TinyCheckpoint& Tiny() {
  static TinyCheckpoint tiny;  // removed at exit
  return tiny;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Tiny().Check(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
