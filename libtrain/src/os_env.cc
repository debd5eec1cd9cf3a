#include "train/internal/os_env.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

namespace train::internal {

OsEnv* OsEnv::Default() {
  static OsEnv env;
  return &env;
}

std::chrono::steady_clock::time_point OsEnv::SteadyNow() {
  return std::chrono::steady_clock::now();
}

int OsEnv::Open(const std::string& path, int flags, mode_t mode) {
  return ::open(path.c_str(), flags, mode);
}

ssize_t OsEnv::Write(int fd, const void* data, std::size_t size) { return ::write(fd, data, size); }

int OsEnv::Fsync(int fd) { return ::fsync(fd); }

int OsEnv::Close(int fd) { return ::close(fd); }

int OsEnv::Unlink(const std::string& path) { return ::unlink(path.c_str()); }

int OsEnv::MakeDir(const std::string& path, mode_t mode) { return ::mkdir(path.c_str(), mode); }

int MakeDirs(OsEnv* env, const std::string& path, mode_t mode, std::string* failed) {
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path at = std::filesystem::path(path).lexically_normal(); !at.empty();
       at = at.parent_path()) {
    std::error_code error;
    if (std::filesystem::is_directory(at, error)) break;
    missing.push_back(at);
    if (at.parent_path() == at) break;  // the root
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (env->MakeDir(it->string(), mode) == 0) continue;
    const int error = errno;
    if (error == EEXIST) continue;
    *failed = it->string();
    return error;
  }
  return 0;
}

int OsEnv::Rename(const std::string& from, const std::string& to, bool no_replace) {
  if (!no_replace) return ::rename(from.c_str(), to.c_str());
  return ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
}

int OsEnv::Kill(pid_t pid, int signal) { return ::kill(pid, signal); }

int OsEnv::ListDir(const std::string& dir, std::vector<DirEntry>* entries) {
  entries->clear();
  DIR* stream = ::opendir(dir.c_str());
  if (stream == nullptr) return errno;
  int error = 0;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(stream);
    if (entry == nullptr) {
      error = errno;
      break;
    }
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN || entry->d_type == DT_LNK) {  // ask, following links
      struct stat info {};
      is_dir = ::fstatat(::dirfd(stream), entry->d_name, &info, 0) == 0 && S_ISDIR(info.st_mode);
    }
    entries->push_back({name, is_dir});
  }
  ::closedir(stream);
  return error;
}

}  // namespace train::internal
