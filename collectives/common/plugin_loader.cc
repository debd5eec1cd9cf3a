// Finds libtrain-<name>.so in $TRAIN_PLUGIN_DIR or beside libtrain.so, loads it once, and
// returns the factory it exports.
#include <dlfcn.h>

#include <map>
#include <mutex>
#include <string>

#include "common/backends.h"
#include "train/env.h"
#include "train/internal/env_names.h"
#include "train/internal/process_environment.h"

namespace train::internal {
namespace {

// The reason a plugin may be missing, for the error message.
std::string WhyAbsent(std::string_view name) {
  if (name == "nccl") {
    return "libtrain-nccl.so is built only when libtrain is built with CUDA (nvcc found, "
           "TRAIN_WITH_CUDA not OFF)";
  }
  if (name == "mpi") {
    return "libtrain-mpi.so is built only when CMake finds MPI (install libopenmpi-dev and "
           "reconfigure)";
  }
  return "no backend plugin of that name is built";
}

// The directory libtrain.so was loaded from (this function lives in it), with a trailing '/'.
Result<std::string> LibtrainDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&LibtrainDirectory), &info) == 0 ||
      info.dli_fname == nullptr) {
    return InternalError("dladdr could not tell where libtrain.so was loaded from; set " +
                         std::string(kPluginDirVariable) + " to the directory of the plugins");
  }
  std::string path = info.dli_fname;
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string("./") : path.substr(0, slash + 1);
}

// $TRAIN_PLUGIN_DIR/libtrain-<name>.so when the variable is set, else the file beside
// libtrain.so.
Result<std::string> PluginPath(std::string_view name) {
  const std::string file = "libtrain-" + std::string(name) + ".so";
  const std::map<std::string, std::string> environment = ProcessEnvironment();
  const auto dir = environment.find(kPluginDirVariable);
  if (dir != environment.end() && !dir->second.empty()) {
    return dir->second + (dir->second.back() == '/' ? "" : "/") + file;
  }
  TRAIN_ASSIGN_OR_RETURN(const std::string base, LibtrainDirectory());
  return base + file;
}

// Opens `path` and resolves the entry point; handles stay open for the life of the process
// (communicators created from a plugin may outlive any owner we could give the handle).
Result<BackendFactory> OpenPlugin(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    const std::string reason = error != nullptr ? error : "dlopen failed";
    // dlerror names the file when it is missing, but not a missing dependency's dependent.
    return NotFoundError(reason.find(path) != std::string::npos ? reason : path + ": " + reason);
  }
  dlerror();  // clears any stale error so the one below is dlsym's
  void* entry = dlsym(handle, kPluginEntryPoint);
  if (entry == nullptr) {
    const char* reason = dlerror();
    dlclose(handle);
    return FailedPreconditionError(path + " was loaded but does not export " +
                                   std::string(kPluginEntryPoint) + " (" +
                                   (reason != nullptr ? reason : "dlsym failed") +
                                   "); it is not a libtrain backend plugin of this version");
  }
  using EntryPoint = BackendFactory (*)();
  const BackendFactory factory = reinterpret_cast<EntryPoint>(entry)();
  if (factory == nullptr) {
    return InternalError(path + ": " + std::string(kPluginEntryPoint) + " returned no factory");
  }
  return factory;
}

}  // namespace

Result<BackendFactory> LoadBackendPlugin(std::string_view name) {
  // Loaded plugins by path: a later call that resolves to the same file gets the same factory.
  static std::mutex mu;
  static auto* loaded = new std::map<std::string, BackendFactory>;

  TRAIN_ASSIGN_OR_RETURN(const std::string path, PluginPath(name));
  std::lock_guard lock(mu);
  const auto cached = loaded->find(path);
  if (cached != loaded->end()) return cached->second;
  Result<BackendFactory> factory = OpenPlugin(path);
  if (factory.ok()) {
    loaded->emplace(path, *factory);
    return factory;
  }
  if (factory.status().code() != StatusCode::kNotFound) return factory.status();
  return FailedPreconditionError("the " + std::string(name) +
                                 " communicator backend is not available: could not load " +
                                 factory.status().message() + ". " + WhyAbsent(name) + "; " +
                                 kPluginDirVariable + " overrides where plugins are looked for.");
}

}  // namespace train::internal
