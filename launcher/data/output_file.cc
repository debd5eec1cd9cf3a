#include "output_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

namespace trainctl::data {
namespace {

namespace fs = std::filesystem;

std::string Errno() { return std::strerror(errno); }

train::Status SyncPath(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return train::UnavailableError(path + ": cannot open to sync: " + Errno());
  const int rc = fsync(fd);
  const std::string error = rc < 0 ? Errno() : "";
  close(fd);
  if (rc < 0) return train::UnavailableError(path + ": fsync failed: " + error);
  return train::Status::Ok();
}

// The temporary file being written, for RemoveTempFileForSignal: a fixed buffer, published by
// an atomic flag, since a signal handler can read nothing else safely.
char signal_temp_path[4096];
std::atomic<bool> signal_temp_set{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void PublishForSignal(const std::string& temp_path) {
  signal_temp_set.store(false);
  if (temp_path.size() >= sizeof(signal_temp_path)) return;
  std::memcpy(signal_temp_path, temp_path.c_str(), temp_path.size() + 1);
  signal_temp_set.store(true);
}

void WithdrawForSignal(const std::string& temp_path) {
  if (signal_temp_set.load() && temp_path == signal_temp_path) signal_temp_set.store(false);
}

// ".NAME.tmp-PID-K" files in `dir` whose PID no longer runs: left by an import killed outright.
// A live process's file (this one's, or another import's) is kept.
void RemoveStaleTempFiles(const fs::path& dir, const std::string& name) {
  const std::string prefix = "." + name + ".tmp-";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    if (entry.compare(0, prefix.size(), prefix) != 0) continue;
    const char* first = entry.data() + prefix.size();
    const char* last = entry.data() + entry.size();
    pid_t pid = 0;
    const auto [rest, error] = std::from_chars(first, last, pid);
    if (error != std::errc() || pid <= 0 || rest == last || *rest != '-') continue;
    if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove(it->path(), ignored);
  }
}

}  // namespace

void RemoveTempFileForSignal() {
  if (signal_temp_set.load()) unlink(signal_temp_path);
}

train::Result<AtomicOutput> AtomicOutput::Prepare(const std::string& path, bool overwrite) {
  if (path.empty()) return train::InvalidArgumentError("no output file given");
  const fs::path target(path);
  if (target.filename().empty()) {
    return train::InvalidArgumentError(path + ": names a directory; give a file name");
  }
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return train::NotFoundError(path + ": directory " + dir.string() +
                                " does not exist; create it first");
  }
  const fs::file_status status = fs::status(target, ec);
  if (fs::is_directory(status)) {
    return train::InvalidArgumentError(path + ": is a directory; give a file name");
  }
  if (fs::exists(status) && !overwrite) {
    return train::AlreadyExistsError(path + ": exists already; pass --force to replace it");
  }
  RemoveStaleTempFiles(dir, target.filename().string());
  static std::atomic<int> counter{0};
  const std::string temp_name = "." + target.filename().string() + ".tmp-" +
                                std::to_string(getpid()) + "-" + std::to_string(counter++);
  AtomicOutput output(path, (dir / temp_name).string(), overwrite);
  PublishForSignal(output.temp_path_);
  return output;
}

AtomicOutput::AtomicOutput(AtomicOutput&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      overwrite_(other.overwrite_),
      done_(std::exchange(other.done_, true)) {}

AtomicOutput::~AtomicOutput() {
  if (done_) return;
  std::error_code ec;
  fs::remove(temp_path_, ec);  // may never have been created
  WithdrawForSignal(temp_path_);
}

train::Status AtomicOutput::Commit() {
  if (done_) return train::FailedPreconditionError(path_ + ": committed already");
  TRAIN_RETURN_IF_ERROR(SyncPath(temp_path_, O_RDONLY));
  int rc;
  if (overwrite_) {
    rc = std::rename(temp_path_.c_str(), path_.c_str());
  } else {
    // No-replace: a file that appeared at the target since Prepare() is kept.
    rc = renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE);
    if (rc < 0 && (errno == EINVAL || errno == ENOSYS)) {  // filesystem without the flag
      std::error_code ec;
      if (fs::exists(path_, ec)) {
        errno = EEXIST;
      } else {
        rc = std::rename(temp_path_.c_str(), path_.c_str());
      }
    }
  }
  if (rc < 0) {
    if (errno == EEXIST) {
      return train::AlreadyExistsError(path_ +
                                       ": was created by something else during the import; "
                                       "pass --force to replace it");
    }
    return train::UnavailableError(path_ + ": cannot rename " + temp_path_ +
                                   " into place: " + Errno());
  }
  done_ = true;
  WithdrawForSignal(temp_path_);
  fs::path dir = fs::path(path_).parent_path();
  return SyncPath(dir.empty() ? "." : dir.string(), O_RDONLY | O_DIRECTORY);
}

}  // namespace trainctl::data
