// Every file operation of the checkpointer, with each failure turned into a Status that names
// the path and the system's reason. The calls go through an OsEnv, so that tests can inject
// short writes, failed fsyncs, full disks, failed renames and unreadable directories.
#ifndef TRAIN_CHECKPOINT_FILE_LAYER_H_
#define TRAIN_CHECKPOINT_FILE_LAYER_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "train/internal/os_env.h"
#include "train/status.h"

namespace train::internal {

// An open file being written. Closes its descriptor when destroyed.
class FileSink {
 public:
  FileSink(FileSink&& other) noexcept;
  FileSink& operator=(FileSink&&) = delete;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  ~FileSink();

  // Writes all of `data`, retrying short writes. `total_bytes` is what the whole file needs
  // (reported when the disk is full).
  Status Write(const void* data, std::size_t size, std::uint64_t total_bytes);
  Status Sync();
  Status Close();
  const std::string& path() const { return path_; }

 private:
  friend class FileLayer;
  FileSink(std::string path, int fd, OsEnv* env) : path_(std::move(path)), fd_(fd), env_(env) {}

  std::string path_;
  int fd_ = -1;
  std::uint64_t written_ = 0;
  OsEnv* env_;
};

class FileLayer {
 public:
  explicit FileLayer(OsEnv* env = OsEnv::Default()) : env_(env) {}

  // Creates `path`, which must not exist.
  Result<FileSink> Create(const std::string& path) const;
  // Creates `path`, writes `data` in large chunks, fsyncs and closes it; returns the CRC32C of
  // the bytes, computed as they are written. On failure the partial file is removed.
  Result<std::uint32_t> WriteFile(const std::string& path, const void* data,
                                  std::size_t size) const;
  // The whole of `path`, which must be a regular file (see RegularFile) of at most `max_bytes`
  // (DATA_LOSS when larger, before anything is allocated).
  Result<std::vector<std::byte>> ReadFile(const std::string& path, std::uint64_t max_bytes) const;
  Status SyncDir(const std::string& path) const;
  // rename(2): atomic replacement within one filesystem.
  Status Rename(const std::string& from, const std::string& to) const;
  // rename(2) that never replaces: ALREADY_EXISTS when `to` exists.
  Status RenameNoReplace(const std::string& from, const std::string& to) const;
  Status CreateDirs(const std::string& path) const;
  Status RemoveAll(const std::string& path) const;
  // The entries of `dir`; NOT_FOUND when it does not exist.
  Result<std::vector<DirEntry>> ListDir(const std::string& dir) const;

 private:
  OsEnv* env_;
};

// "<what> <path>: <strerror(error)>" with the canonical code for `error`.
Status ErrnoStatus(int error, const std::string& what, const std::string& path);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_FILE_LAYER_H_
