// HDF5 plumbing: the process-wide lock, owned identifiers, and HDF5 failures as Status.
#ifndef TRAIN_INTERNAL_HDF5_UTIL_H_
#define TRAIN_INTERNAL_HDF5_UTIL_H_

#include <hdf5.h>

#include <mutex>
#include <string>
#include <string_view>

#include "train/status.h"

namespace train::internal {

// Held around every HDF5 call in the process. The library keeps global state (open files,
// identifiers, caches) that concurrent callers would corrupt, so one lock serializes them.
// fork() takes the lock first (pthread_atfork), so a child never inherits HDF5 in the middle of
// a call. The first lock in a thread turns HDF5's error printing off there: errors come back
// as Status instead (the printing setting is per thread in thread-safe builds of HDF5).
// Not reentrant: locking twice in one thread aborts.
class Hdf5Lock {
 public:
  Hdf5Lock();
  ~Hdf5Lock();
  Hdf5Lock(const Hdf5Lock&) = delete;
  Hdf5Lock& operator=(const Hdf5Lock&) = delete;

  static bool HeldByThisThread();

 private:
  std::unique_lock<std::mutex> lock_;
};

// An hid_t that closes itself with the function matching how it was opened (H5Fclose,
// H5Dclose, H5Sclose, H5Tclose, H5Pclose). Must be closed under the Hdf5Lock.
class Hid {
 public:
  using Closer = herr_t (*)(hid_t);

  Hid() = default;
  Hid(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Hid() { Reset(); }
  Hid(Hid&& other) noexcept : id_(other.id_), closer_(other.closer_) {
    other.id_ = H5I_INVALID_HID;
  }
  Hid& operator=(Hid&& other) noexcept;
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void Reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// HDF5's account of the last failure in this thread, most specific message first, e.g.
// "truncated file: eof = 1024, ... (H5FD_sec2_open) <- unable to open file"; clears the stack.
std::string TakeHdf5ErrorStack();

// "<call> failed on field 'images' of /data/train.h5: <HDF5's messages>. <advice>"; an empty
// field leaves out the field, an empty advice the advice. Clears the error stack.
Status Hdf5Error(StatusCode code, std::string_view call, std::string_view path,
                 std::string_view field, std::string_view advice);

}  // namespace train::internal

#endif  // TRAIN_INTERNAL_HDF5_UTIL_H_
