// The state behind every store in this process: keys with optional expiry, and the waiters of
// blocking Get/Wait calls. The in-memory store and the HTTP server both sit on top of it.
//
// Waiters are callbacks, not blocked threads: the server parks thousands of long-poll requests
// here and answers each one from the callback, when its keys are set or its deadline passes.
// One reaper thread per state fires deadlines.
#ifndef TRAIN_SRC_STORE_STORE_STATE_H_
#define TRAIN_SRC_STORE_STORE_STATE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/store_keys.h"
#include "train/internal/os_env.h"
#include "train/status.h"
#include "train/store.h"

namespace train::internal {

using StoreClock = std::chrono::steady_clock;

// How a waiter ended: OK with the value of its first key, or the error (deadline, closed) and
// the keys that were still missing.
struct WaitOutcome {
  Status status;
  std::string value;
  std::vector<std::string> missing;
};
using WaitCallback = std::function<void(WaitOutcome)>;

class StoreState {
 public:
  // `env`'s clock times expiry and deadlines (tests inject a fake one and call Tick()).
  explicit StoreState(StoreLimits limits = {}, OsEnv* env = OsEnv::Default());
  // Completes every waiter (CANCELLED) and stops the reaper.
  ~StoreState();
  StoreState(const StoreState&) = delete;
  StoreState& operator=(const StoreState&) = delete;

  // The operations of train::Store, without waiting.
  Status Set(std::string_view key, std::string_view value, Milliseconds ttl);
  Status MultiSet(const std::vector<std::string>& keys, const std::vector<std::string>& values);
  Result<std::optional<std::string>> TryGet(std::string_view key);
  Result<std::vector<std::optional<std::string>>> MultiGet(const std::vector<std::string>& keys);
  Result<std::int64_t> Add(std::string_view key, std::int64_t delta);
  Result<std::optional<std::string>> CompareSet(std::string_view key,
                                                std::optional<std::string_view> expected,
                                                std::string_view desired);
  Result<bool> Delete(std::string_view key);
  Result<std::vector<std::string>> Keys(std::string_view prefix);

  // Calls `done` exactly once: when every key in `keys` is set, when `timeout` has passed
  // (DEADLINE_EXCEEDED naming the missing keys), or when the state closes. It may be called
  // before Watch returns (keys already set). An error return means `done` will not be called.
  // `id`, when given, receives the waiter's id for CancelWatch (0 when it finished at once).
  Status Watch(std::vector<std::string> keys, Milliseconds timeout, WaitCallback done,
               std::uint64_t* id = nullptr);

  // Drops the waiter `id` without calling its callback (its requester went away), freeing
  // its place under StoreLimits.max_waiters. Does nothing when it already finished.
  void CancelWatch(std::uint64_t id);

  // Completes every waiter with `why` and refuses later Watch calls with it.
  void Close(const Status& why);

  // How finished waiters' callbacks run: at once on the thread that finished them (the
  // default), or handed to `run_later`, which a server sets so that the callbacks of
  // thousands of waiters woken by one write take turns with its other clients.
  using CallbackRunner = std::function<void(std::function<void()> callback)>;
  void set_callback_runner(CallbackRunner run_later);

  // Fires the deadlines that have passed by now(); the reaper does this on its own, tests
  // with a fake clock call it after moving the clock.
  void Tick();

  std::size_t key_count();
  std::size_t waiter_count();
  const StoreLimits& limits() const { return limits_; }

 private:
  struct Entry {
    std::string value;
    std::optional<StoreClock::time_point> expiry;
  };
  struct Waiter {
    std::vector<std::string> keys;
    std::size_t cursor = 0;  // keys before it were seen set
    StoreClock::time_point deadline;
    Milliseconds timeout{0};
    WaitCallback done;
  };
  using Completion = std::pair<WaitCallback, WaitOutcome>;

  void PurgeExpiredLocked(StoreClock::time_point now);
  // Stores `value` at `key` and wakes its watchers. Set replaces the expiry with `expiry`;
  // Add and CompareSet keep the key's own (`keep_expiry`).
  void PutLocked(const std::string& key, std::string value, bool keep_expiry,
                 std::optional<StoreClock::time_point> expiry,
                 std::vector<Completion>& completions);
  Status CheckValueLocked(std::string_view key, std::string_view value) const;
  Status CheckRoomForLocked(const std::string& key) const;
  // Moves the waiter's cursor past set keys; true when every key is set.
  bool AdvanceLocked(Waiter& waiter) const;
  Completion FinishLocked(std::uint64_t id, Status status);
  void CollectDueLocked(StoreClock::time_point now, std::vector<Completion>& completions);
  void ReaperLoop(const std::shared_ptr<bool>& orphaned);
  void Run(std::vector<Completion>& completions);

  const StoreLimits limits_;
  OsEnv* const env_;

  std::mutex mu_;
  std::condition_variable reaper_cv_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::set<std::pair<StoreClock::time_point, std::string>> expiries_;
  std::unordered_map<std::uint64_t, Waiter> waiters_;
  // key -> waiters whose cursor stands at that key (the next key each one needs).
  std::unordered_map<std::string, std::unordered_set<std::uint64_t>> watchers_;
  std::set<std::pair<StoreClock::time_point, std::uint64_t>> deadlines_;
  std::uint64_t next_waiter_id_ = 1;
  std::optional<Status> closed_;
  bool stopping_ = false;
  CallbackRunner run_later_;
  // Set when a callback run by the reaper destroyed this state: the reaper must then return
  // without touching it. Shared, because it outlives the state.
  const std::shared_ptr<bool> reaper_orphaned_ = std::make_shared<bool>(false);
  std::thread reaper_;  // last: starts after every member above exists
};

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_STORE_STATE_H_
