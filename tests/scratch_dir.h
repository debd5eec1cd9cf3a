// Every test's scratch space: a fresh directory of its own under the system's temporary
// directory, removed with everything in it when the test ends. One class for all the tests, so
// each makes and cleans up its directory the same way.
#ifndef TRAIN_TESTS_SCRATCH_DIR_H_
#define TRAIN_TESTS_SCRATCH_DIR_H_

#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace train::testing {

class ScratchDir {
 public:
  // Makes <temp dir>/<prefix>.XXXXXX. Aborts when it cannot: no test can go on without it.
  explicit ScratchDir(std::string_view prefix = "train-test") {
    std::error_code error;
    const std::filesystem::path base = std::filesystem::temp_directory_path(error);
    if (error) Fail("temp_directory_path", error.message());
    std::string pattern = (base / (std::string(prefix) + ".XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp " + pattern, std::strerror(errno));
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  // `name` inside the directory.
  std::string operator/(std::string_view name) const { return (path_ / name).string(); }

 private:
  [[noreturn]] static void Fail(const std::string& what, const std::string& why) {
    std::fprintf(stderr, "scratch directory: %s: %s\n", what.c_str(), why.c_str());
    std::abort();
  }

  std::filesystem::path path_;
};

}  // namespace train::testing

#endif  // TRAIN_TESTS_SCRATCH_DIR_H_
