// Opening a checkpoint file for reading without trusting what the directory holds: a FIFO, a
// device, a directory or a symbolic link in place of a file is refused before anything could
// block on it or read outside the checkpoint.
#ifndef TRAIN_CHECKPOINT_REGULAR_FILE_H_
#define TRAIN_CHECKPOINT_REGULAR_FILE_H_

#include <cstdint>
#include <string>

#include "train/status.h"

namespace train::internal {

class RegularFile {
 public:
  // NOT_FOUND when `path` does not exist; DATA_LOSS when it is anything but a regular file
  // (checked with lstat before opening, then with fstat on the descriptor, opened with
  // O_NOFOLLOW | O_NONBLOCK so that nothing swapped in between can block or redirect it).
  static Result<RegularFile> Open(const std::string& path);

  RegularFile(RegularFile&& other) noexcept;
  RegularFile& operator=(RegularFile&&) = delete;
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  ~RegularFile();

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }

 private:
  RegularFile(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_REGULAR_FILE_H_
