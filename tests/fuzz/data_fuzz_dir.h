// A scratch directory for the data-import fuzz targets: on tmpfs when there is one (imports
// fsync their output), removed when the process exits.
#ifndef TRAINCTL_TESTS_FUZZ_DATA_FUZZ_DIR_H_
#define TRAINCTL_TESTS_FUZZ_DATA_FUZZ_DIR_H_

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace trainctl::fuzz {

class FuzzDir {
 public:
  explicit FuzzDir(const std::string& name) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    path_ = base / (name + "-" + std::to_string(getpid()));
    fs::create_directories(path_, ec);
  }
  ~FuzzDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  FuzzDir(const FuzzDir&) = delete;
  FuzzDir& operator=(const FuzzDir&) = delete;

  std::string File(const std::string& name) const { return (path_ / name).string(); }

  std::string Write(const std::string& name, const std::uint8_t* data, std::size_t size) const {
    const std::string path = File(name);
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace trainctl::fuzz

#endif  // TRAINCTL_TESTS_FUZZ_DATA_FUZZ_DIR_H_
