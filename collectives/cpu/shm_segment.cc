#include "cpu/shm_segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <utility>
#include <vector>

#include "train/internal/unique_fd.h"

namespace train::internal {
namespace {

constexpr std::size_t kPage = 4096;

std::size_t RoundUp(std::size_t value, std::size_t to) { return (value + to - 1) / to * to; }

std::string ErrnoText(int error) { return std::string(std::strerror(error)); }

// "train-shm-<pid namespace>-": the names this namespace's processes create.
std::string NamePrefix() { return "train-shm-" + std::to_string(PidNamespace()) + "-"; }

// Names of segments whose creator died between creating them and every member attaching
// (after which the name is gone): nobody can use them any more.
void RemoveAbandonedSegments() {
  const std::string prefix = NamePrefix();
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) return;
  std::vector<std::string> abandoned;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const int pid = std::atoi(name.c_str() + prefix.size());
    if (pid > 0 && ProcessGone(pid)) abandoned.push_back("/" + name);
  }
  ::closedir(dir);
  for (const std::string& name : abandoned) ::shm_unlink(name.c_str());
}

Result<std::string> RandomName() {
  unsigned char bytes[12];
  std::size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return InternalError("shared memory: getrandom failed: " + ErrnoText(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  std::string name = "/" + NamePrefix() + std::to_string(::getpid()) + "-";
  char hex[3];
  for (unsigned char b : bytes) {
    std::snprintf(hex, sizeof(hex), "%02x", b);
    name += hex;
  }
  return name;
}

Result<unsigned char*> Map(int fd, std::size_t bytes, const std::string& name) {
  void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (base == MAP_FAILED) {
    return ResourceExhaustedError("shared memory: mapping " + std::to_string(bytes) +
                                  " bytes of /dev/shm" + name + " failed: " + ErrnoText(errno));
  }
  return static_cast<unsigned char*>(base);
}

}  // namespace

std::uint64_t PidNamespace() {
  struct stat st {};
  if (::stat("/proc/self/ns/pid", &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_ino);
}

bool ProcessGone(int pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;  // cannot tell: assume alive
  const auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return false;
  const char state = text[paren + 2];
  return state == 'Z' || state == 'X';
}

std::size_t ShmLayout::ControlOffset() const { return kPage; }

std::size_t ShmLayout::SlotOffset(int slot) const {
  const std::size_t control = RoundUp(sizeof(ShmMemberControl) * size, kPage);
  const std::size_t area = RoundUp(chunk_bytes, kPage);
  return ControlOffset() + control + static_cast<std::size_t>(slot) * area * (size + 1);
}

std::size_t ShmLayout::InputOffset(int slot, int member) const {
  return SlotOffset(slot) + static_cast<std::size_t>(member) * RoundUp(chunk_bytes, kPage);
}

std::size_t ShmLayout::ResultOffset(int slot) const { return InputOffset(slot, size); }

std::size_t ShmLayout::TotalBytes() const { return SlotOffset(slots); }

ShmSegment::~ShmSegment() {
  if (base_ != nullptr) ::munmap(base_, bytes_);
}

Result<std::unique_ptr<ShmSegment>> ShmSegment::Create(const ShmLayout& layout) {
  static_assert(sizeof(ShmHeader) <= kPage);
  const std::size_t bytes = layout.TotalBytes();
  RemoveAbandonedSegments();
  std::string name;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    TRAIN_ASSIGN_OR_RETURN(name, RandomName());
    fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 && (errno != EEXIST || attempt == 3)) {
      return PermissionDeniedError("shared memory: cannot create /dev/shm" + name + ": " +
                                   ErrnoText(errno) + " (is /dev/shm mounted and writable?)");
    }
  }
  UniqueFd owned(fd);
  // Allocate the pages now (not just the size): a full /dev/shm (64 MiB in a default Docker
  // container) is an error here rather than a SIGBUS in the middle of an op.
  const int error = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (error != 0) {
    (void)Unlink(name);
    return ResourceExhaustedError("shared memory: cannot allocate " + std::to_string(bytes) +
                                  " bytes for /dev/shm" + name + ": " + ErrnoText(error) +
                                  " (is /dev/shm full or small? df /dev/shm)");
  }
  auto base = Map(fd, bytes, name);
  if (!base.ok()) {
    (void)Unlink(name);
    return base.status();
  }
  std::unique_ptr<ShmSegment> segment(new ShmSegment(name, *base, bytes, layout));
  // The file is zero-filled: every counter starts at 0. Construct the atomics in place.
  ShmHeader* header = new (*base) ShmHeader{};
  header->size = static_cast<std::uint32_t>(layout.size);
  header->slots = static_cast<std::uint32_t>(layout.slots);
  header->chunk_bytes = layout.chunk_bytes;
  header->total_bytes = bytes;
  for (int m = 0; m < layout.size; ++m) new (segment->control(m)) ShmMemberControl{};
  header->magic.store(kShmMagic, std::memory_order_release);
  return segment;
}

Result<std::unique_ptr<ShmSegment>> ShmSegment::Open(const std::string& name) {
  const int fd = ::shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) {
    return NotFoundError("shared memory: cannot open /dev/shm" + name + ": " + ErrnoText(errno) +
                         " (the ranks of a host must share /dev/shm and run as the same user)");
  }
  UniqueFd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < kPage) {
    return DataLossError("shared memory: /dev/shm" + name + " is too small to be a segment");
  }
  const auto bytes = static_cast<std::size_t>(st.st_size);
  TRAIN_ASSIGN_OR_RETURN(unsigned char* base, Map(fd, bytes, name));
  auto* header = reinterpret_cast<ShmHeader*>(base);
  if (header->magic.load(std::memory_order_acquire) != kShmMagic || header->total_bytes != bytes) {
    ::munmap(base, bytes);
    return DataLossError("shared memory: /dev/shm" + name +
                         " is not a libtrain segment (bad magic or size)");
  }
  ShmLayout layout;
  layout.size = static_cast<int>(header->size);
  layout.slots = static_cast<int>(header->slots);
  layout.chunk_bytes = header->chunk_bytes;
  if (layout.TotalBytes() != bytes) {
    ::munmap(base, bytes);
    return DataLossError("shared memory: /dev/shm" + name + " has an inconsistent layout");
  }
  return std::unique_ptr<ShmSegment>(new ShmSegment(name, base, bytes, layout));
}

Status ShmSegment::Unlink(const std::string& name) {
  if (::shm_unlink(name.c_str()) != 0 && errno != ENOENT) {
    return InternalError("shared memory: cannot unlink /dev/shm" + name + ": " + ErrnoText(errno));
  }
  return Status::Ok();
}

}  // namespace train::internal
