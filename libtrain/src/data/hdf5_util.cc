#include "train/internal/hdf5_util.h"

#include <pthread.h>

#include <vector>

namespace train::internal {
namespace {

std::mutex& GlobalHdf5Mutex() {
  static std::mutex* const mutex = new std::mutex;  // never destroyed: used until exit
  return *mutex;
}

thread_local bool lock_held = false;
thread_local bool error_printing_off = false;

// fork() waits until no thread is inside HDF5, then both processes release the lock: the child
// starts with HDF5 idle and the lock free.
void LockForFork() { GlobalHdf5Mutex().lock(); }
void UnlockAfterFork() { GlobalHdf5Mutex().unlock(); }

void RegisterForkHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    TRAIN_CHECK_EQ(pthread_atfork(LockForFork, UnlockAfterFork, UnlockAfterFork), 0);
  });
}

herr_t CollectMessage(unsigned /*depth*/, const H5E_error2_t* error, void* data) {
  auto* messages = static_cast<std::vector<std::string>*>(data);
  std::string message = error->desc != nullptr ? error->desc : "";
  if (message.empty()) {
    char minor[256] = {};
    if (H5Eget_msg(error->min_num, nullptr, minor, sizeof(minor)) > 0) message = minor;
  }
  if (message.empty()) return 0;
  if (error->func_name != nullptr) message += std::string(" (") + error->func_name + ")";
  messages->push_back(std::move(message));
  return 0;
}

}  // namespace

Hdf5Lock::Hdf5Lock() {
  // A second lock in the same thread would deadlock; make it a clear failure instead.
  TRAIN_CHECK(!lock_held);
  RegisterForkHandlers();
  lock_ = std::unique_lock<std::mutex>(GlobalHdf5Mutex());
  lock_held = true;
  if (!error_printing_off) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    error_printing_off = true;
  }
}

Hdf5Lock::~Hdf5Lock() { lock_held = false; }

bool Hdf5Lock::HeldByThisThread() { return lock_held; }

Hid& Hid::operator=(Hid&& other) noexcept {
  if (this != &other) {
    Reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Hid::Reset() {
  if (id_ < 0) return;
  TRAIN_CHECK(Hdf5Lock::HeldByThisThread());
  closer_(id_);  // a failed close leaves nothing to recover: the identifier is gone either way
  id_ = H5I_INVALID_HID;
}

std::string TakeHdf5ErrorStack() {
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, CollectMessage, &messages);
  H5Eclear2(H5E_DEFAULT);
  // The innermost few say what went wrong; the outer ones repeat which API call failed.
  constexpr std::size_t kMaxMessages = 3;
  std::string out;
  for (std::size_t i = 0; i < messages.size() && i < kMaxMessages; ++i) {
    if (i > 0) out += " <- ";
    out += messages[i];
  }
  return out.empty() ? "no detail from HDF5" : out;
}

Status Hdf5Error(StatusCode code, std::string_view call, std::string_view path,
                 std::string_view field, std::string_view advice) {
  std::string message(call);
  message += " failed on ";
  if (!field.empty()) message += "field '" + std::string(field) + "' of ";
  message += std::string(path) + ": " + TakeHdf5ErrorStack();
  if (!advice.empty()) message += ". " + std::string(advice);
  return Status(code, std::move(message));
}

}  // namespace train::internal
