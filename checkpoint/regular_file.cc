#include "regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "file_layer.h"

namespace train::internal {
namespace {

std::string KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

Status NotRegular(const std::string& path, mode_t mode) {
  return DataLossError("checkpoint file " + path + " is " + KindOf(mode) +
                       ", not a regular file; the checkpoint is damaged or was tampered with");
}

}  // namespace

Result<RegularFile> RegularFile::Open(const std::string& path) {
  struct stat before {};
  if (::lstat(path.c_str(), &before) != 0) {
    if (errno == ENOENT) return NotFoundError("checkpoint file " + path + " is missing");
    return ErrnoStatus(errno, "cannot stat", path);
  }
  if (!S_ISREG(before.st_mode)) return NotRegular(path, before.st_mode);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return NotFoundError("checkpoint file " + path + " is missing");
    if (errno == ELOOP) return NotRegular(path, S_IFLNK);
    return ErrnoStatus(errno, "cannot open", path);
  }
  RegularFile file(fd, 0);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return ErrnoStatus(errno, "cannot stat", path);
  if (!S_ISREG(info.st_mode)) return NotRegular(path, info.st_mode);
  if (info.st_dev != before.st_dev || info.st_ino != before.st_ino) {
    return DataLossError("checkpoint file " + path +
                         " was replaced while being opened; is something else writing into the "
                         "checkpoint directory?");
  }
  file.size_ = static_cast<std::uint64_t>(info.st_size);
  return file;
}

RegularFile::RegularFile(RegularFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_) {}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace train::internal
