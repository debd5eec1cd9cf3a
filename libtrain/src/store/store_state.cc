#include "store/store_state.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

namespace train::internal {
namespace {

// The reaper re-reads the clock at least this often, so an injected clock cannot park it.
constexpr auto kReaperMaxSleep = std::chrono::seconds(1);
Milliseconds Clamp(Milliseconds timeout) {
  return std::clamp(timeout, Milliseconds(0), kMaxStoreTimeout);
}

}  // namespace

StoreState::StoreState(StoreLimits limits, OsEnv* env)
    : limits_(limits),
      env_(env),
      reaper_([this, orphaned = reaper_orphaned_] { ReaperLoop(orphaned); }) {}

StoreState::~StoreState() {
  Close(CancelledError("the store was destroyed while a request waited on it"));
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  reaper_cv_.notify_all();
  if (reaper_.get_id() == std::this_thread::get_id()) {
    // A waiter's callback, run by the reaper, dropped the last reference to this state (a
    // server answering its last parked request as it goes away).
    *reaper_orphaned_ = true;
    reaper_.detach();
  } else {
    reaper_.join();
  }
}

void StoreState::PurgeExpiredLocked(StoreClock::time_point now) {
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    auto node = expiries_.extract(expiries_.begin());
    entries_.erase(node.value().second);
  }
}

Status StoreState::CheckValueLocked(std::string_view key, std::string_view value) const {
  if (value.size() > limits_.max_value_bytes) {
    return InvalidArgumentError(
        "the value for key " + Quoted(key) + " is " + std::to_string(value.size()) +
        " bytes, over the store's limit of " + std::to_string(limits_.max_value_bytes) +
        " bytes (StoreLimits.max_value_bytes): keep large data in files (the checkpoint "
        "directory) and put their paths in the store");
  }
  return Status::Ok();
}

Status StoreState::CheckRoomForLocked(const std::string& key) const {
  if (entries_.size() >= limits_.max_keys && entries_.find(key) == entries_.end()) {
    return ResourceExhaustedError(
        "cannot add key " + Quoted(key) + ": the store holds " + std::to_string(entries_.size()) +
        " keys, its limit (StoreLimits.max_keys); delete keys that are no longer needed or give "
        "them a ttl");
  }
  return Status::Ok();
}

void StoreState::PutLocked(const std::string& key, std::string value, bool keep_expiry,
                           std::optional<StoreClock::time_point> expiry,
                           std::vector<Completion>& completions) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    it = entries_.emplace(key, Entry{}).first;
  } else if (!keep_expiry && it->second.expiry) {
    expiries_.erase({*it->second.expiry, key});
    it->second.expiry.reset();
  }
  it->second.value = std::move(value);
  if (!keep_expiry && expiry) {
    it->second.expiry = expiry;
    expiries_.emplace(*expiry, key);
  }

  auto watching = watchers_.find(key);
  if (watching == watchers_.end()) return;
  const std::unordered_set<std::uint64_t> ids = std::move(watching->second);
  watchers_.erase(watching);
  for (std::uint64_t id : ids) {
    Waiter& waiter = waiters_.at(id);
    if (AdvanceLocked(waiter)) {
      completions.push_back(FinishLocked(id, Status::Ok()));
    } else {
      watchers_[waiter.keys[waiter.cursor]].insert(id);
    }
  }
}

bool StoreState::AdvanceLocked(Waiter& waiter) const {
  const std::size_t n = waiter.keys.size();
  while (waiter.cursor < n && entries_.count(waiter.keys[waiter.cursor]) != 0) ++waiter.cursor;
  if (waiter.cursor < n) return false;
  // A key passed earlier may have been deleted since: all must be set at once.
  for (std::size_t i = 0; i < n; ++i) {
    if (entries_.count(waiter.keys[i]) == 0) {
      waiter.cursor = i;
      return false;
    }
  }
  return true;
}

StoreState::Completion StoreState::FinishLocked(std::uint64_t id, Status status) {
  auto node = waiters_.extract(id);
  Waiter& waiter = node.mapped();
  deadlines_.erase({waiter.deadline, id});
  if (waiter.cursor < waiter.keys.size()) {
    auto watching = watchers_.find(waiter.keys[waiter.cursor]);
    if (watching != watchers_.end()) {
      watching->second.erase(id);
      if (watching->second.empty()) watchers_.erase(watching);
    }
  }
  WaitOutcome outcome;
  if (status.ok() && !waiter.keys.empty()) {
    outcome.value = entries_.at(waiter.keys.front()).value;
  }
  if (!status.ok()) {
    for (const std::string& key : waiter.keys) {
      if (entries_.count(key) == 0) outcome.missing.push_back(key);
    }
  }
  outcome.status = std::move(status);
  return {std::move(waiter.done), std::move(outcome)};
}

void StoreState::CollectDueLocked(StoreClock::time_point now,
                                  std::vector<Completion>& completions) {
  PurgeExpiredLocked(now);
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const std::uint64_t id = deadlines_.begin()->second;
    const Waiter& waiter = waiters_.at(id);
    std::vector<std::string> missing;
    for (const std::string& key : waiter.keys) {
      if (entries_.count(key) == 0) missing.push_back(key);
    }
    completions.push_back(FinishLocked(
        id, DeadlineExceededError(DeadlineMessage(waiter.keys, missing, waiter.timeout))));
  }
}

void StoreState::set_callback_runner(CallbackRunner run_later) {
  std::lock_guard<std::mutex> lock(mu_);
  run_later_ = std::move(run_later);
}

void StoreState::Run(std::vector<Completion>& completions) {
  if (completions.empty()) return;
  CallbackRunner run_later;
  {
    std::lock_guard<std::mutex> lock(mu_);
    run_later = run_later_;
  }
  for (auto& [done, outcome] : completions) {
    if (!run_later) {
      done(std::move(outcome));
      continue;
    }
    run_later([done = std::move(done), outcome = std::move(outcome)]() mutable {
      done(std::move(outcome));
    });
  }
  completions.clear();
}

Status StoreState::Set(std::string_view key, std::string_view value, Milliseconds ttl) {
  TRAIN_RETURN_IF_ERROR(ValidateKey(key, limits_.max_key_bytes));
  if (ttl < Milliseconds(0)) {
    return InvalidArgumentError("ttl " + std::to_string(ttl.count()) + " ms for key " +
                                Quoted(key) + " is negative: use kNoTtl (0) for no expiry");
  }
  std::vector<Completion> completions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = env_->SteadyNow();
    PurgeExpiredLocked(now);
    TRAIN_RETURN_IF_ERROR(CheckValueLocked(key, value));
    const std::string owned(key);
    TRAIN_RETURN_IF_ERROR(CheckRoomForLocked(owned));
    std::optional<StoreClock::time_point> expiry;
    if (ttl > Milliseconds(0)) expiry = now + Clamp(ttl);
    PutLocked(owned, std::string(value), /*keep_expiry=*/false, expiry, completions);
  }
  Run(completions);
  return Status::Ok();
}

Status StoreState::MultiSet(const std::vector<std::string>& keys,
                            const std::vector<std::string>& values) {
  if (keys.size() != values.size()) {
    return InvalidArgumentError("MultiSet got " + std::to_string(keys.size()) + " keys and " +
                                std::to_string(values.size()) + " values; they pair up");
  }
  for (const std::string& key : keys)
    TRAIN_RETURN_IF_ERROR(ValidateKey(key, limits_.max_key_bytes));
  std::vector<Completion> completions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PurgeExpiredLocked(env_->SteadyNow());
    // Every check before the first write: a refused MultiSet sets nothing.
    std::size_t added = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      TRAIN_RETURN_IF_ERROR(CheckValueLocked(keys[i], values[i]));
      if (entries_.find(keys[i]) == entries_.end()) ++added;
    }
    if (added > 0 && entries_.size() + added > limits_.max_keys) {
      return ResourceExhaustedError("cannot add " + std::to_string(added) + " keys (the first " +
                                    Quoted(keys.front()) + "): the store holds " +
                                    std::to_string(entries_.size()) + " of its limit of " +
                                    std::to_string(limits_.max_keys) + " (StoreLimits.max_keys)");
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      PutLocked(keys[i], values[i], /*keep_expiry=*/false, std::nullopt, completions);
    }
  }
  Run(completions);
  return Status::Ok();
}

Result<std::optional<std::string>> StoreState::TryGet(std::string_view key) {
  TRAIN_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(env_->SteadyNow());
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second.value);
}

Result<std::vector<std::optional<std::string>>> StoreState::MultiGet(
    const std::vector<std::string>& keys) {
  for (const std::string& key : keys) TRAIN_RETURN_IF_ERROR(ValidateKey(key));
  std::vector<std::optional<std::string>> values;
  values.reserve(keys.size());
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(env_->SteadyNow());
  for (const std::string& key : keys) {
    auto it = entries_.find(key);
    values.push_back(it == entries_.end() ? std::nullopt
                                          : std::optional<std::string>(it->second.value));
  }
  return values;
}

Result<std::int64_t> StoreState::Add(std::string_view key, std::int64_t delta) {
  TRAIN_RETURN_IF_ERROR(ValidateKey(key, limits_.max_key_bytes));
  std::vector<Completion> completions;
  std::int64_t sum = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PurgeExpiredLocked(env_->SteadyNow());
    const std::string owned(key);
    std::int64_t current = 0;
    auto it = entries_.find(owned);
    if (it == entries_.end()) {
      TRAIN_RETURN_IF_ERROR(CheckRoomForLocked(owned));
    } else {
      const std::string& text = it->second.value;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), current);
      if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
        return InvalidArgumentError("cannot add to key " + Quoted(key) + ": it holds " +
                                    Quoted(text) + " (" + std::to_string(text.size()) +
                                    " bytes), not a decimal int64; Add needs an integer value "
                                    "or an absent key");
      }
    }
    if (__builtin_add_overflow(current, delta, &sum)) {
      return OutOfRangeError("adding " + std::to_string(delta) + " to key " + Quoted(key) +
                             " (holding " + std::to_string(current) + ") overflows int64");
    }
    PutLocked(owned, std::to_string(sum), /*keep_expiry=*/true, std::nullopt, completions);
  }
  Run(completions);
  return sum;
}

Result<std::optional<std::string>> StoreState::CompareSet(std::string_view key,
                                                          std::optional<std::string_view> expected,
                                                          std::string_view desired) {
  TRAIN_RETURN_IF_ERROR(ValidateKey(key, limits_.max_key_bytes));
  std::vector<Completion> completions;
  std::optional<std::string> result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PurgeExpiredLocked(env_->SteadyNow());
    TRAIN_RETURN_IF_ERROR(CheckValueLocked(key, desired));
    const std::string owned(key);
    auto it = entries_.find(owned);
    const bool matches = it == entries_.end()
                             ? !expected.has_value()
                             : expected.has_value() && it->second.value == *expected;
    if (!matches) {
      if (it != entries_.end()) result = it->second.value;
    } else {
      TRAIN_RETURN_IF_ERROR(CheckRoomForLocked(owned));
      PutLocked(owned, std::string(desired), /*keep_expiry=*/true, std::nullopt, completions);
      result = std::string(desired);
    }
  }
  Run(completions);
  return result;
}

Result<bool> StoreState::Delete(std::string_view key) {
  TRAIN_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(env_->SteadyNow());
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  if (it->second.expiry) expiries_.erase({*it->second.expiry, it->first});
  entries_.erase(it);
  return true;
}

Result<std::vector<std::string>> StoreState::Keys(std::string_view prefix) {
  if (!prefix.empty()) TRAIN_RETURN_IF_ERROR(ValidateKey(prefix).WithContext("prefix"));
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(env_->SteadyNow());
  std::vector<std::string> keys;
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && std::string_view(it->first).substr(0, prefix.size()) == prefix;
       ++it) {
    keys.push_back(it->first);
  }
  return keys;
}

Status StoreState::Watch(std::vector<std::string> keys, Milliseconds timeout, WaitCallback done,
                         std::uint64_t* parked_id) {
  if (parked_id != nullptr) *parked_id = 0;
  for (const std::string& key : keys) TRAIN_RETURN_IF_ERROR(ValidateKey(key));
  std::vector<Completion> completions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return *closed_;
    const auto now = env_->SteadyNow();
    PurgeExpiredLocked(now);
    const std::uint64_t id = next_waiter_id_++;
    Waiter waiter{std::move(keys), 0, now + Clamp(timeout), Clamp(timeout), std::move(done)};
    const bool ready = AdvanceLocked(waiter);
    if (!ready && timeout > Milliseconds(0) && waiters_.size() >= limits_.max_waiters) {
      return ResourceExhaustedError(
          std::to_string(waiters_.size()) +
          " requests already wait on this store, its limit (StoreLimits.max_waiters): wait "
          "for fewer keys at once or raise the limit");
    }
    auto [it, inserted] = waiters_.emplace(id, std::move(waiter));
    TRAIN_CHECK(inserted);
    Waiter& parked = it->second;
    deadlines_.emplace(parked.deadline, id);
    if (ready) {
      completions.push_back(FinishLocked(id, Status::Ok()));
    } else if (timeout <= Milliseconds(0)) {
      CollectDueLocked(now, completions);
    } else {
      watchers_[parked.keys[parked.cursor]].insert(id);
      if (deadlines_.begin()->second == id) reaper_cv_.notify_one();
      if (parked_id != nullptr) *parked_id = id;
    }
  }
  Run(completions);
  return Status::Ok();
}

void StoreState::CancelWatch(std::uint64_t id) {
  std::optional<Completion> dropped;  // destroyed after the lock: the callback owns things
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (waiters_.count(id) == 0) return;
    dropped.emplace(FinishLocked(id, CancelledError("the requester went away")));
  }
}

void StoreState::Close(const Status& why) {
  std::vector<Completion> completions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = why;
    std::vector<std::uint64_t> ids;
    ids.reserve(waiters_.size());
    for (const auto& [id, waiter] : waiters_) ids.push_back(id);
    for (std::uint64_t id : ids) completions.push_back(FinishLocked(id, why));
  }
  Run(completions);
}

void StoreState::Tick() {
  std::vector<Completion> completions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    CollectDueLocked(env_->SteadyNow(), completions);
  }
  Run(completions);
}

std::size_t StoreState::key_count() {
  std::lock_guard<std::mutex> lock(mu_);
  PurgeExpiredLocked(env_->SteadyNow());
  return entries_.size();
}

std::size_t StoreState::waiter_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

void StoreState::ReaperLoop(const std::shared_ptr<bool>& orphaned) {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<Completion> completions;
  while (!stopping_) {
    if (deadlines_.empty()) {
      reaper_cv_.wait(lock);
      continue;
    }
    const auto now = env_->SteadyNow();
    const auto due = deadlines_.begin()->first;
    if (due > now) {
      reaper_cv_.wait_for(lock, std::min<StoreClock::duration>(due - now, kReaperMaxSleep));
      continue;
    }
    CollectDueLocked(now, completions);
    lock.unlock();
    Run(completions);
    if (*orphaned) return;  // `this` is gone
    lock.lock();
  }
}

}  // namespace train::internal
