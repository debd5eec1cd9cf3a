#include "directory_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace train::testing {
namespace {

namespace fs = std::filesystem;
constexpr std::chrono::milliseconds kPollInterval{2};

std::string HexEncode(std::string_view key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : key) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string HexDecode(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i + 1 < name.size(); i += 2) {
    out += static_cast<char>(std::stoi(name.substr(i, 2), nullptr, 16));
  }
  return out;
}

class DirectoryStore final : public Store {
 public:
  explicit DirectoryStore(std::string directory) : directory_(std::move(directory)) {}

  Status Set(std::string_view key, std::string_view value, Milliseconds /*ttl*/) override {
    static std::atomic<int> counter{0};
    const std::string temp = directory_ + "/.tmp-" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter.fetch_add(1));
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out.write(value.data(), static_cast<std::streamsize>(value.size()));
      if (!out) return InternalError("cannot write " + temp);
    }
    std::error_code error;
    fs::rename(temp, PathOf(key), error);
    if (error) return InternalError("cannot rename " + temp + ": " + error.message());
    return Status::Ok();
  }

  Status MultiSet(const std::vector<std::string>& keys,
                  const std::vector<std::string>& values) override {
    if (keys.size() != values.size())
      return InvalidArgumentError("keys and values differ in number");
    for (std::size_t i = 0; i < keys.size(); ++i)
      TRAIN_RETURN_IF_ERROR(Set(keys[i], values[i], kNoTtl));
    return Status::Ok();
  }

  Result<std::string> Get(std::string_view key, Milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      TRAIN_ASSIGN_OR_RETURN(auto value, TryGet(key));
      if (value) return *value;
      if (std::chrono::steady_clock::now() >= deadline) {
        return DeadlineExceededError("key " + std::string(key) + " was not set in time");
      }
      std::this_thread::sleep_for(kPollInterval);
    }
  }

  Result<std::optional<std::string>> TryGet(std::string_view key) override {
    std::ifstream in(PathOf(key), std::ios::binary);
    if (!in) return std::optional<std::string>();
    std::stringstream value;
    value << in.rdbuf();
    return std::optional<std::string>(value.str());
  }

  Result<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override {
    std::vector<std::optional<std::string>> values;
    for (const std::string& key : keys) {
      TRAIN_ASSIGN_OR_RETURN(auto value, TryGet(key));
      values.push_back(std::move(value));
    }
    return values;
  }

  Result<std::int64_t> Add(std::string_view key, std::int64_t delta) override {
    Locked lock(directory_);
    TRAIN_ASSIGN_OR_RETURN(auto value, TryGet(key));
    std::int64_t number = 0;
    if (value) {
      const auto [end, error] =
          std::from_chars(value->data(), value->data() + value->size(), number);
      if (error != std::errc() || end != value->data() + value->size()) {
        return InvalidArgumentError("key " + std::string(key) + " holds no integer");
      }
    }
    number += delta;
    TRAIN_RETURN_IF_ERROR(Set(key, std::to_string(number), kNoTtl));
    return number;
  }

  Result<std::optional<std::string>> CompareSet(std::string_view key,
                                                std::optional<std::string_view> expected,
                                                std::string_view desired) override {
    Locked lock(directory_);
    TRAIN_ASSIGN_OR_RETURN(auto value, TryGet(key));
    const bool matches = expected ? (value && *value == *expected) : !value;
    if (!matches) return value;
    TRAIN_RETURN_IF_ERROR(Set(key, desired, kNoTtl));
    return std::optional<std::string>(std::string(desired));
  }

  Status Wait(const std::vector<std::string>& keys, Milliseconds timeout) override {
    for (const std::string& key : keys) {
      TRAIN_ASSIGN_OR_RETURN(std::string ignored, Get(key, timeout));
      (void)ignored;
    }
    return Status::Ok();
  }

  Result<bool> Delete(std::string_view key) override {
    std::error_code error;
    return fs::remove(PathOf(key), error);
  }

  Result<std::vector<std::string>> Keys(std::string_view prefix) override {
    std::vector<std::string> keys;
    for (const auto& entry : fs::directory_iterator(directory_)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      std::string key = HexDecode(name);
      if (key.starts_with(prefix)) keys.push_back(std::move(key));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

 private:
  // An exclusive flock on the directory's lock file for as long as it lives.
  class Locked {
   public:
    explicit Locked(const std::string& directory)
        : fd_(::open((directory + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
      if (fd_ >= 0) (void)::flock(fd_, LOCK_EX);
    }
    ~Locked() {
      if (fd_ >= 0) ::close(fd_);
    }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

   private:
    int fd_;
  };

  std::string PathOf(std::string_view key) const { return directory_ + "/" + HexEncode(key); }

  std::string directory_;
};

}  // namespace

std::unique_ptr<Store> NewDirectoryStore(const std::string& directory) {
  return std::make_unique<DirectoryStore>(directory);
}

}  // namespace train::testing
