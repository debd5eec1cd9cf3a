#include "file_layer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "crc32c.h"
#include "regular_file.h"

namespace train::internal {
namespace {

namespace fs = std::filesystem;

// Large sequential writes run at the disk's speed; the checksum of a chunk is computed while
// it is still in cache.
constexpr std::size_t kWriteChunkBytes = std::size_t{16} << 20;

StatusCode CodeForErrno(int error) {
  switch (error) {
    case ENOSPC:
    case EDQUOT:
      return StatusCode::kResourceExhausted;
    case EACCES:
    case EPERM:
    case EROFS:
      return StatusCode::kPermissionDenied;
    case ENOENT:
      return StatusCode::kNotFound;
    case EEXIST:
      return StatusCode::kAlreadyExists;
    default:
      return StatusCode::kUnavailable;
  }
}

}  // namespace

Status ErrnoStatus(int error, const std::string& what, const std::string& path) {
  return Status(CodeForErrno(error), what + " " + path + ": " + std::strerror(error));
}

FileSink::FileSink(FileSink&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      written_(other.written_),
      env_(other.env_) {}

FileSink::~FileSink() {
  if (fd_ >= 0) env_->Close(fd_);
}

Status FileSink::Write(const void* data, std::size_t size, std::uint64_t total_bytes) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = env_->Write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      if (error == ENOSPC || error == EDQUOT) {
        return ResourceExhaustedError(
            "no space left on the device writing " + path_ + ": the file needs " +
            std::to_string(total_bytes) + " bytes and " + std::to_string(written_) +
            " were written; free space there (or keep fewer checkpoints: keep_last)");
      }
      return ErrnoStatus(error, "cannot write", path_);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
    written_ += static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

Status FileSink::Sync() {
  if (env_->Fsync(fd_) != 0) return ErrnoStatus(errno, "cannot fsync", path_);
  return Status::Ok();
}

Status FileSink::Close() {
  const int fd = std::exchange(fd_, -1);
  if (fd >= 0 && env_->Close(fd) != 0) return ErrnoStatus(errno, "cannot close", path_);
  return Status::Ok();
}

Result<FileSink> FileLayer::Create(const std::string& path) const {
  const int fd = env_->Open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "cannot create", path);
  return FileSink(path, fd, env_);
}

Result<std::uint32_t> FileLayer::WriteFile(const std::string& path, const void* data,
                                           std::size_t size) const {
  TRAIN_ASSIGN_OR_RETURN(FileSink sink, Create(path));
  std::uint32_t crc = 0;
  const auto* p = static_cast<const char*>(data);
  Status status;
  for (std::size_t done = 0; status.ok() && done < size;) {
    const std::size_t chunk = std::min(kWriteChunkBytes, size - done);
    crc = Crc32cExtend(crc, p + done, chunk);
    status = sink.Write(p + done, chunk, size);
    done += chunk;
  }
  if (status.ok()) status = sink.Sync();
  if (status.ok()) status = sink.Close();
  if (!status.ok()) {
    static_cast<void>(sink.Close());  // the write's error is the one to report
    env_->Unlink(path);
    return status;
  }
  return crc;
}

Result<std::vector<std::byte>> FileLayer::ReadFile(const std::string& path,
                                                   std::uint64_t max_bytes) const {
  TRAIN_ASSIGN_OR_RETURN(RegularFile file, RegularFile::Open(path));
  if (file.size() > max_bytes) {
    return DataLossError(path + " is " + std::to_string(file.size()) + " bytes; at most " +
                         std::to_string(max_bytes) + " are accepted");
  }
  std::vector<std::byte> bytes(static_cast<std::size_t>(file.size()));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pread(file.fd(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "cannot read", path);
    if (n == 0) break;  // shrank while reading: the size check of the caller reports it
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

Status FileLayer::SyncDir(const std::string& path) const {
  const int fd = env_->Open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "cannot open directory", path);
  const int result = env_->Fsync(fd);
  const int error = errno;
  env_->Close(fd);
  if (result != 0) return ErrnoStatus(error, "cannot fsync directory", path);
  return Status::Ok();
}

Status FileLayer::Rename(const std::string& from, const std::string& to) const {
  if (env_->Rename(from, to, /*no_replace=*/false) != 0) {
    return ErrnoStatus(errno, "cannot rename to " + to + ":", from);
  }
  return Status::Ok();
}

Status FileLayer::RenameNoReplace(const std::string& from, const std::string& to) const {
  if (env_->Rename(from, to, /*no_replace=*/true) == 0) {
    return Status::Ok();
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return ErrnoStatus(errno, "cannot rename to " + to + ":", from);
  }
  // A filesystem without RENAME_NOREPLACE: check, then rename (only rank 0 renames here).
  std::error_code error;
  if (fs::exists(to, error) || error)
    return ErrnoStatus(EEXIST, "cannot rename to " + to + ":", from);
  return Rename(from, to);
}

Status FileLayer::CreateDirs(const std::string& path) const {
  std::string failed;
  const int error = MakeDirs(env_, path, 0755, &failed);
  if (error != 0) return ErrnoStatus(error, "cannot create directory", failed);
  return Status::Ok();
}

Result<std::vector<DirEntry>> FileLayer::ListDir(const std::string& dir) const {
  std::vector<DirEntry> entries;
  const int error = env_->ListDir(dir, &entries);
  if (error != 0) return ErrnoStatus(error, "cannot list directory", dir);
  return entries;
}

Status FileLayer::RemoveAll(const std::string& path) const {
  std::error_code error;
  fs::remove_all(path, error);
  if (error) return ErrnoStatus(error.value(), "cannot remove", path);
  return Status::Ok();
}

}  // namespace train::internal
