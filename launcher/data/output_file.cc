#include "output_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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

}  // namespace

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
  static std::atomic<int> counter{0};
  const std::string temp_name = "." + target.filename().string() + ".tmp-" +
                                std::to_string(getpid()) + "-" + std::to_string(counter++);
  return AtomicOutput(path, (dir / temp_name).string(), overwrite);
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
  fs::path dir = fs::path(path_).parent_path();
  return SyncPath(dir.empty() ? "." : dir.string(), O_RDONLY | O_DIRECTORY);
}

}  // namespace trainctl::data
