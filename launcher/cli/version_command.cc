#include <google/protobuf/stubs/common.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.h"
#include "train/device.h"
#include "train/version.h"

namespace trainctl::cli {

int RunVersion() {
  std::cout << "trainctl " << TRAINCTL_VERSION << "\n"
            << "libtrain " << train::LibraryVersion() << "\n"
            << "spec     trainctl.dev/v1alpha1 (protobuf "
            << google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION) << ")\n";
  if (!train::BuiltWithCuda()) {
    std::cout << "cuda     not built (rebuild with the CUDA Toolkit: -DTRAIN_WITH_CUDA=ON)\n";
    return kExitOk;
  }
  auto devices = train::ListCudaDevices();
  if (!devices.ok()) {
    std::cout << "cuda     built; no GPU usable here: " << devices.status().message() << "\n";
    return kExitOk;
  }
  std::cout << "cuda     built; " << devices->size() << " GPU(s)\n";
  for (const auto& d : *devices) {
    std::cout << "  gpu " << d.index << ": " << d.name << ", sm_" << d.compute_major
              << d.compute_minor << ", " << d.total_bytes / (1024 * 1024) << " MiB\n";
  }
  return kExitOk;
}

CommandRunner AddVersionCommand(CLI::App* app) {
  auto* version = app->add_subcommand("version", "Print versions and the GPUs this build can use");
  return [version]() -> std::optional<int> {
    if (version->parsed()) return RunVersion();
    return std::nullopt;
  };
}

}  // namespace trainctl::cli
