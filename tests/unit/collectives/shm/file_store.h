// A Store over a directory, for tests whose ranks are forked processes: fork-safe (no threads,
// no sockets), one file per key, written to a temporary name and renamed into place. Only
// what the shared-memory bootstrap uses is implemented (Set, Get, TryGet, Delete).
#ifndef TRAIN_TESTS_UNIT_COLLECTIVES_SHM_FILE_STORE_H_
#define TRAIN_TESTS_UNIT_COLLECTIVES_SHM_FILE_STORE_H_

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "train/store.h"

namespace train::testing {

class FileStore final : public Store {
 public:
  explicit FileStore(std::string dir) : dir_(std::move(dir)) {}

  Status Set(std::string_view key, std::string_view value, Milliseconds = kNoTtl) override {
    const std::string path = Path(key);
    const std::string tmp = path + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(value.data(), static_cast<std::streamsize>(value.size()));
      if (!out) return InternalError("FileStore: cannot write " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return InternalError("FileStore: cannot rename " + tmp);
    }
    return Status::Ok();
  }

  Result<std::string> Get(std::string_view key, Milliseconds timeout) override {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto value = Read(key);
      if (value) return *value;
      if (std::chrono::steady_clock::now() >= until) {
        return DeadlineExceededError("FileStore: key " + std::string(key) + " was not set");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  Result<std::optional<std::string>> TryGet(std::string_view key) override { return Read(key); }

  Result<bool> Delete(std::string_view key) override { return std::remove(Path(key).c_str()) == 0; }

  Result<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override {
    std::vector<std::optional<std::string>> values;
    for (const auto& key : keys) values.push_back(Read(key));
    return values;
  }
  Result<std::int64_t> Add(std::string_view, std::int64_t) override { return Unsupported(); }
  Result<std::optional<std::string>> CompareSet(std::string_view, std::optional<std::string_view>,
                                                std::string_view) override {
    return Unsupported();
  }
  Status Wait(const std::vector<std::string>&, Milliseconds) override { return Unsupported(); }
  Result<std::vector<std::string>> Keys(std::string_view) override { return Unsupported(); }

 private:
  static Status Unsupported() { return InternalError("FileStore: not implemented"); }

  std::string Path(std::string_view key) const {
    std::string name(key);
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    return dir_ + "/" + name;
  }

  std::optional<std::string> Read(std::string_view key) const {
    std::ifstream in(Path(key), std::ios::binary);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::string dir_;
};

}  // namespace train::testing

#endif  // TRAIN_TESTS_UNIT_COLLECTIVES_SHM_FILE_STORE_H_
