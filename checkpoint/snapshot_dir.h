// The node-local directory of memory snapshots: file names, atomic writes, listing, pruning.
// A snapshot file is w<W>-rank-<R>-step-<S>.snap, written as .tmp-<pid>-<name> and renamed.
#ifndef TRAIN_CHECKPOINT_SNAPSHOT_DIR_H_
#define TRAIN_CHECKPOINT_SNAPSHOT_DIR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "train/internal/os_env.h"
#include "train/status.h"

namespace train::internal {

struct SnapshotFile {
  int world_size = 0;
  int rank = 0;
  std::int64_t step = 0;
  std::uint64_t bytes = 0;
};

class SnapshotDir {
 public:
  explicit SnapshotDir(std::string path, OsEnv* env = OsEnv::Default())
      : path_(std::move(path)), env_(env) {}

  // Creates the directory (mode 0700) when missing.
  Status Create() const;
  // Writes `size` bytes at `data` as the snapshot `file` (a temporary renamed into place).
  Status Write(const SnapshotFile& file, const std::byte* data, std::size_t size) const;
  // The whole file; refuses anything but a regular file of the listed size.
  Result<std::vector<std::byte>> Read(const SnapshotFile& file) const;
  // Every well-named snapshot file (sizes from stat); others are ignored.
  std::vector<SnapshotFile> List() const;
  // Deletes rank `rank`'s snapshots of world size `world_size` except the `keep` newest steps
  // up to `step`; those after `step` are of a past that was undone (a restart from an older
  // step), and go too.
  void Prune(int world_size, int rank, std::int64_t step, std::size_t keep) const;
  // Deletes temporaries, and every snapshot not of `world_size` or whose rank `keep_rank`
  // rejects.
  template <typename KeepRank>
  void RemoveStale(int world_size, KeepRank keep_rank) const {
    RemoveTemporaries();
    for (const SnapshotFile& file : List()) {
      if (file.world_size != world_size || !keep_rank(file.rank)) Remove(file);
    }
  }

  const std::string& path() const { return path_; }
  std::string PathOf(const SnapshotFile& file) const;

 private:
  void Remove(const SnapshotFile& file) const;
  Status WriteAll(int fd, const std::byte* data, std::size_t size) const;
  void RemoveTemporaries() const;

  std::string path_;
  OsEnv* env_;
};

// Parses a snapshot file name; nullopt for any other name.
std::optional<SnapshotFile> ParseSnapshotName(const std::string& name);

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_SNAPSHOT_DIR_H_
