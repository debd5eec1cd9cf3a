// The operating system as libtrain and trainctl use it: the clock, files, directories and
// signals. Code that a fault test must reach takes an `OsEnv*` (OsEnv::Default() in
// production); a test derives from OsEnv and overrides the calls it breaks (a full disk, a
// failed rename, an unreadable directory, a clock that jumps, a signal the kernel refuses), so
// the fault is exact and nothing sleeps.
//
// The file calls keep the system calls' contract: -1 with errno set on failure, and Write may
// write fewer bytes than asked.
#ifndef TRAIN_INTERNAL_OS_ENV_H_
#define TRAIN_INTERNAL_OS_ENV_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace train::internal {

// One entry of a directory listing.
struct DirEntry {
  std::string name;
  bool is_dir = false;  // a directory, or a link to one
};

class OsEnv {
 public:
  virtual ~OsEnv() = default;

  // The real system; lives as long as the process.
  static OsEnv* Default();

  // Monotonic time.
  virtual std::chrono::steady_clock::time_point SteadyNow();

  // open(2), write(2), fsync(2), close(2), unlink(2).
  virtual int Open(const std::string& path, int flags, mode_t mode);
  virtual ssize_t Write(int fd, const void* data, std::size_t size);
  virtual int Fsync(int fd);
  virtual int Close(int fd);
  virtual int Unlink(const std::string& path);

  // mkdir(2) of one directory (its parent must exist).
  virtual int MakeDir(const std::string& path, mode_t mode);

  // rename(2); with `no_replace`, renameat2(RENAME_NOREPLACE), which fails with EEXIST rather
  // than replace `to` (EINVAL where the filesystem cannot).
  virtual int Rename(const std::string& from, const std::string& to, bool no_replace);

  // The entries of `dir` (not "." and ".."); 0, or the errno of the failure (ENOENT when `dir`
  // does not exist).
  virtual int ListDir(const std::string& dir, std::vector<DirEntry>* entries);

  // kill(2): a negative `pid` signals the process group -pid.
  virtual int Kill(pid_t pid, int signal);
};

// `path` and its missing parents, from the top down, each through env->MakeDir; 0, or the
// errno of the first that failed (`failed` names it). A directory that exists already is fine.
int MakeDirs(OsEnv* env, const std::string& path, mode_t mode, std::string* failed);

}  // namespace train::internal

#endif  // TRAIN_INTERNAL_OS_ENV_H_
