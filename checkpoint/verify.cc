#include "verify.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "commit.h"
#include "crc32c.h"
#include "hdf5_layout_check.h"
#include "regular_file.h"

namespace train::internal {
namespace {

// Large enough that a read is mostly the copy, small enough that the chunk being checksummed
// is still in the cache the read left it in.
constexpr std::uint64_t kChunkBytes = std::uint64_t{16} << 20;
// Chunks the reader may be ahead of the checksum: the bound on scratch memory.
constexpr std::size_t kChunksAhead = 4;
// Below this a second thread costs more than the overlap saves.
constexpr std::uint64_t kPipelinedBytes = std::uint64_t{8} << 20;

std::string Hex(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "%08x", value);
  return text;
}

Status SizeMismatch(const std::string& path, std::uint64_t actual, std::uint64_t listed) {
  return DataLossError("checkpoint file " + path + " has " + std::to_string(actual) +
                       " bytes; the manifest says " + std::to_string(listed));
}

// A chunk of the file in reading order: into the caller's memory, or (to == nullptr) into
// scratch memory, read only for the checksum.
struct Segment {
  std::uint64_t offset, bytes;
  std::byte* to;
};

void AddSegments(std::vector<Segment>& segments, std::uint64_t begin, std::uint64_t end,
                 std::byte* to) {
  for (std::uint64_t at = begin; at < end; at += kChunkBytes) {
    const std::uint64_t bytes = std::min(kChunkBytes, end - at);
    segments.push_back({at, bytes, to == nullptr ? nullptr : to + (at - begin)});
  }
}

Status ReadFully(int fd, const std::string& path, std::uint64_t offset, std::byte* to,
                 std::uint64_t bytes) {
  for (std::uint64_t done = 0; done < bytes;) {
    const ssize_t n = ::pread(fd, to + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "cannot read", path);
    if (n == 0) {
      return DataLossError("checkpoint file " + path + " ended at byte " +
                           std::to_string(offset + done) + " while being read");
    }
    done += static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

// Reads the segments in order and returns the CRC32C of the bytes. Large files are read by a
// second thread while this one checksums the chunk before: reading (the kernel's copy) and
// the checksum then overlap instead of adding up.
Result<std::uint32_t> ReadSegments(int fd, const std::string& path,
                                   const std::vector<Segment>& segments) {
  std::uint64_t total = 0, largest_scratch = 0;
  std::size_t scratch_count = 0;
  for (const Segment& s : segments) {
    total += s.bytes;
    if (s.to == nullptr) largest_scratch = std::max(largest_scratch, s.bytes), ++scratch_count;
  }
  const bool pipelined = total >= kPipelinedBytes;
  const std::size_t slots = std::min(scratch_count, pipelined ? kChunksAhead : std::size_t{1});
  std::vector<std::unique_ptr<std::byte[]>> scratch;
  for (std::size_t i = 0; i < slots; ++i) {
    scratch.push_back(std::make_unique_for_overwrite<std::byte[]>(largest_scratch));
  }
  // Scratch segment k uses slot k % slots: at most kChunksAhead segments are read and not yet
  // checksummed, so a slot is never refilled while its bytes are still needed.
  std::vector<std::byte*> where(segments.size());
  for (std::size_t i = 0, k = 0; i < segments.size(); ++i) {
    where[i] = segments[i].to != nullptr ? segments[i].to : scratch[k++ % slots].get();
  }
  std::uint32_t crc = 0;
  if (!pipelined) {
    for (std::size_t i = 0; i < segments.size(); ++i) {
      TRAIN_RETURN_IF_ERROR(ReadFully(fd, path, segments[i].offset, where[i], segments[i].bytes));
      crc = Crc32cExtend(crc, where[i], segments[i].bytes);
    }
    return crc;
  }

  std::mutex mutex;
  std::condition_variable changed;
  std::size_t read = 0, checked = 0;
  bool stop = false;
  Status read_error;
  std::thread reader([&] {
    for (std::size_t i = 0; i < segments.size(); ++i) {
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return stop || i < checked + kChunksAhead; });
        if (stop) return;
      }
      Status status = ReadFully(fd, path, segments[i].offset, where[i], segments[i].bytes);
      std::lock_guard lock(mutex);
      changed.notify_all();
      if (!status.ok()) {
        read_error = std::move(status);
        return;
      }
      read = i + 1;
    }
  });
  for (std::size_t i = 0; i < segments.size(); ++i) {
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return i < read || !read_error.ok(); });
      if (i >= read) break;
    }
    crc = Crc32cExtend(crc, where[i], segments[i].bytes);
    std::lock_guard lock(mutex);
    checked = i + 1;
    changed.notify_all();
  }
  {
    std::lock_guard lock(mutex);
    stop = true;
    changed.notify_all();
  }
  reader.join();
  if (!read_error.ok()) return read_error;
  return crc;
}

}  // namespace

Result<Manifest> ReadManifest(const FileLayer& files, const std::string& step_dir) {
  const std::string path = step_dir + "/" + kManifestName;
  Result<std::vector<std::byte>> bytes = files.ReadFile(path, kMaxManifestBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return NotFoundError("checkpoint manifest " + path + " is missing");
    }
    return bytes.status();
  }
  const std::string text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  TRAIN_ASSIGN_OR_RETURN(Manifest manifest, ParseManifest(text, path));
  // A directory named step-<N> must hold step N: a load resumes from the manifest's step.
  std::string name = step_dir;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  name = name.substr(name.find_last_of('/') + 1);
  const std::int64_t step = StepFromDirName(name);
  TRAIN_RETURN_IF_ERROR(ValidateManifest(
      manifest, path, step >= 0 ? std::optional<std::int64_t>(step) : std::nullopt));
  return manifest;
}

Status CheckFilesPresent(const std::string& step_dir, const Manifest& manifest) {
  for (const ManifestFile& file : manifest.files) {
    const std::string path = step_dir + "/" + file.name;
    TRAIN_ASSIGN_OR_RETURN(const RegularFile opened, RegularFile::Open(path));
    if (opened.size() != file.bytes) return SizeMismatch(path, opened.size(), file.bytes);
  }
  return Status::Ok();
}

Status ReadVerifiedFile(const std::string& step_dir, const ManifestFile& file,
                        std::vector<ReadTarget> targets) {
  const std::string path = step_dir + "/" + file.name;
  TRAIN_ASSIGN_OR_RETURN(const RegularFile opened, RegularFile::Open(path));
  const int fd = opened.fd();
  if (opened.size() != file.bytes) return SizeMismatch(path, opened.size(), file.bytes);
  // Advice only: a larger readahead window for a read that goes through the file once.
  static_cast<void>(::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL));

  // Each target is read where it lies in the file; one that overlaps an earlier one is filled
  // after the check, from the same (now verified) bytes.
  std::sort(targets.begin(), targets.end(),
            [](const ReadTarget& a, const ReadTarget& b) { return a.file_offset < b.file_offset; });
  std::vector<Segment> segments;
  std::vector<ReadTarget> overlapping;
  std::uint64_t position = 0;
  for (const ReadTarget& target : targets) {
    if (target.bytes == 0) continue;
    if (target.file_offset < position) {
      overlapping.push_back(target);
      continue;
    }
    AddSegments(segments, position, target.file_offset, nullptr);
    AddSegments(segments, target.file_offset, target.file_offset + target.bytes, target.to);
    position = target.file_offset + target.bytes;
  }
  AddSegments(segments, position, file.bytes, nullptr);

  TRAIN_ASSIGN_OR_RETURN(const std::uint32_t crc, ReadSegments(fd, path, segments));
  if (crc != file.crc32c) {
    return DataLossError("checkpoint file " + path + " is corrupt: its CRC32C is " + Hex(crc) +
                         "; the manifest says " + Hex(file.crc32c));
  }
  for (const ReadTarget& target : overlapping) {
    TRAIN_RETURN_IF_ERROR(ReadFully(fd, path, target.file_offset, target.to, target.bytes));
  }
  return Status::Ok();
}

Status VerifyAllFiles(const std::string& step_dir, const Manifest& manifest) {
  const std::vector<PieceToCheck> pieces = AllPieces(manifest);
  for (const ManifestFile& file : manifest.files) {
    TRAIN_RETURN_IF_ERROR(ReadVerifiedFile(step_dir, file, {}));
    TRAIN_RETURN_IF_ERROR(CheckPiecesAgainstFile(step_dir, file.name, pieces));
  }
  return Status::Ok();
}

}  // namespace train::internal
