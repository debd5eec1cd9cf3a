#include "snapshot_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "regular_file.h"

namespace train::internal {
namespace fs = std::filesystem;

namespace {

constexpr char kTempPrefix[] = ".tmp-";

}  // namespace

Status SnapshotDir::WriteAll(int fd, const std::byte* data, std::size_t size) const {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t wrote = env_->Write(fd, data + done, size - done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) return ResourceExhaustedError(std::strerror(errno));
    done += static_cast<std::size_t>(wrote);
  }
  return Status::Ok();
}

std::optional<SnapshotFile> ParseSnapshotName(const std::string& name) {
  SnapshotFile file;
  long long step = 0;
  int consumed = 0;
  if (std::sscanf(name.c_str(), "w%d-rank-%d-step-%lld.snap%n", &file.world_size, &file.rank, &step,
                  &consumed) != 3 ||
      static_cast<std::size_t>(consumed) != name.size() || file.world_size < 1 || file.rank < 0 ||
      file.rank >= file.world_size || step < 0) {
    return std::nullopt;
  }
  file.step = step;
  return file;
}

std::string SnapshotDir::PathOf(const SnapshotFile& file) const {
  return path_ + "/w" + std::to_string(file.world_size) + "-rank-" + std::to_string(file.rank) +
         "-step-" + std::to_string(file.step) + ".snap";
}

Status SnapshotDir::Create() const {
  std::string failed;
  if (const int error = MakeDirs(env_, path_, 0700, &failed); error != 0) {
    return FailedPreconditionError("cannot create the memory snapshot directory " + path_ + ": " +
                                   failed + ": " + std::strerror(error));
  }
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::replace, ec);
  return Status::Ok();
}

Status SnapshotDir::Write(const SnapshotFile& file, const std::byte* data, std::size_t size) const {
  const std::string final_path = PathOf(file);
  const std::string temp = path_ + "/" + kTempPrefix + std::to_string(::getpid()) + "-" +
                           fs::path(final_path).filename().string();
  const int fd = env_->Open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return ResourceExhaustedError("cannot create " + temp + ": " + std::strerror(errno));
  }
  Status wrote = WriteAll(fd, data, size);
  env_->Close(fd);
  if (wrote.ok() && env_->Rename(temp, final_path, /*no_replace=*/false) != 0) {
    wrote = ResourceExhaustedError(std::strerror(errno));
  }
  if (!wrote.ok()) {
    env_->Unlink(temp);
    return ResourceExhaustedError("cannot write the memory snapshot " + final_path + ": " +
                                  wrote.message());
  }
  return Status::Ok();
}

Result<std::vector<std::byte>> SnapshotDir::Read(const SnapshotFile& file) const {
  const std::string path = PathOf(file);
  TRAIN_ASSIGN_OR_RETURN(RegularFile in, RegularFile::Open(path));
  if (in.size() != file.bytes) {
    return DataLossError(path + " is " + std::to_string(in.size()) + " bytes, listed as " +
                         std::to_string(file.bytes));
  }
  std::vector<std::byte> blob(in.size());
  std::size_t done = 0;
  while (done < blob.size()) {
    const ssize_t got =
        ::pread(in.fd(), blob.data() + done, blob.size() - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return DataLossError("cannot read " + path + ": it ended early or failed");
    done += static_cast<std::size_t>(got);
  }
  return blob;
}

std::vector<SnapshotFile> SnapshotDir::List() const {
  std::vector<SnapshotFile> files;
  std::vector<DirEntry> entries;
  static_cast<void>(env_->ListDir(path_, &entries));  // unreadable: no snapshots to offer
  for (const DirEntry& entry : entries) {
    auto file = ParseSnapshotName(entry.name);
    if (!file) continue;
    std::error_code ec;
    const fs::path path = fs::path(path_) / entry.name;
    if (!fs::is_regular_file(fs::status(path, ec))) continue;
    file->bytes = fs::file_size(path, ec);
    if (!ec) files.push_back(*file);
  }
  return files;
}

void SnapshotDir::Prune(int world_size, int rank, std::int64_t step, std::size_t keep) const {
  std::vector<SnapshotFile> own;
  for (const SnapshotFile& file : List()) {
    if (file.world_size != world_size || file.rank != rank) continue;
    if (file.step > step) {
      Remove(file);
    } else {
      own.push_back(file);
    }
  }
  std::sort(own.begin(), own.end(),
            [](const SnapshotFile& a, const SnapshotFile& b) { return a.step > b.step; });
  for (std::size_t i = keep; i < own.size(); ++i) Remove(own[i]);
}

void SnapshotDir::Remove(const SnapshotFile& file) const { env_->Unlink(PathOf(file)); }

void SnapshotDir::RemoveTemporaries() const {
  std::vector<DirEntry> entries;
  static_cast<void>(env_->ListDir(path_, &entries));
  for (const DirEntry& entry : entries) {
    if (entry.name.rfind(kTempPrefix, 0) == 0) env_->Unlink(path_ + "/" + entry.name);
  }
}

}  // namespace train::internal
