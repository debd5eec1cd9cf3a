// The store in an etcd cluster: TTLs as leases, Add/CompareSet/Delete as transactions, blocking
// Get and Wait as a read and then a watch from the read's next revision.
//
// Every transaction is safe to send twice (the transport resends one whose answer was lost):
// each carries a marker key of its own, created in the same transaction, and succeeds only
// while that marker is absent. A resent transaction that finds its marker knows it was applied
// and reads its result from the marker, so Add never adds twice. Markers live under the
// store's prefix at " txn/<client>/<n>" (a space: never a valid store key, so Keys() skips
// them) with a lease that removes them after kMarkerTtl.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "store/etcd_client.h"
#include "store/etcd_wire.h"
#include "store/store_keys.h"
#include "train/store.h"

namespace train {
namespace {

using internal::EtcdKeyValue;
using internal::Json;
using internal::Quoted;
using Clock = std::chrono::steady_clock;

constexpr Milliseconds kMarkerTtl{std::chrono::minutes(5)};
// Reads or writes per transaction: etcd refuses more than --max-txn-ops (128 by default).
constexpr std::size_t kMaxOpsPerTxn = 64;
// A wait at least this long goes on from a parked watch without reading first.
constexpr Milliseconds kResumeParkedAtLeast{std::chrono::seconds(1)};
// How long Add keeps retrying when other clients keep changing the key first.
constexpr Milliseconds kMinContention{std::chrono::seconds(30)};
// Keys whose lease a client remembers for reuse (a node's heartbeat keys are a handful).
constexpr std::size_t kMaxKeyLeases = 4096;

Json Op(const char* kind, Json request) { return Json{{kind, std::move(request)}}; }

// etcd refused a write naming a lease that is gone (revoked by hand, or expired).
bool LeaseNotFound(const Status& status) {
  return status.code() == StatusCode::kNotFound &&
         status.message().find("lease") != std::string::npos;
}

bool Succeeded(const Json& txn_answer) {
  const auto it = txn_answer.find("succeeded");
  return it != txn_answer.end() && *it == true;
}

Result<std::int64_t> ParseCounter(std::string_view key, const std::string& text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return InvalidArgumentError("cannot add to key " + Quoted(key) + ": it holds " + Quoted(text) +
                                " (" + std::to_string(text.size()) +
                                " bytes), not a decimal int64; Add needs an integer value or an "
                                "absent key");
  }
  return value;
}

class EtcdStore final : public Store {
 public:
  EtcdStore(EtcdOptions options, std::unique_ptr<internal::EtcdClient> client,
            std::string client_id)
      : options_(std::move(options)), client_(std::move(client)), client_id_(std::move(client_id)) {
    set_default_timeout(options_.default_timeout);
  }

  Status Set(std::string_view key, std::string_view value, Milliseconds ttl) override {
    TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    if (ttl <= Milliseconds(0)) {
      ForgetKeyLease(key);
      return Call("/v3/kv/put", internal::EtcdPut(Full(key), value, 0))
          .status()
          .WithContext("set " + Quoted(key));
    }
    return SetWithLease(key, value, LeaseSeconds(ttl)).WithContext("set " + Quoted(key));
  }

  Status MultiSet(const std::vector<std::string>& keys,
                  const std::vector<std::string>& values) override {
    if (keys.size() != values.size()) {
      return InvalidArgumentError("MultiSet got " + std::to_string(keys.size()) + " keys and " +
                                  std::to_string(values.size()) + " values; they pair up");
    }
    for (const std::string& key : keys) TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    // etcd caps the ops of one txn (--max-txn-ops, 128 by default): write in batches.
    for (std::size_t begin = 0; begin < keys.size(); begin += kMaxOpsPerTxn) {
      const std::size_t end = std::min(keys.size(), begin + kMaxOpsPerTxn);
      Json puts = Json::array();
      for (std::size_t i = begin; i < end; ++i) {
        puts.push_back(Op("request_put", internal::EtcdPut(Full(keys[i]), values[i])));
      }
      TRAIN_RETURN_IF_ERROR(
          Call("/v3/kv/txn", internal::EtcdTxn(Json::array(), std::move(puts), Json::array()))
              .status()
              .WithContext("set " + std::to_string(keys.size()) + " keys"));
    }
    return Status::Ok();
  }

  Result<std::string> Get(std::string_view key, Milliseconds timeout) override {
    TRAIN_ASSIGN_OR_RETURN(auto values, AwaitAll({std::string(key)}, timeout));
    return std::move(*values.front());
  }

  Result<std::optional<std::string>> TryGet(std::string_view key) override {
    TRAIN_ASSIGN_OR_RETURN(auto values, MultiGet({std::string(key)}));
    return std::move(values.front());
  }

  Result<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override {
    TRAIN_ASSIGN_OR_RETURN(auto kvs, ReadMany(keys, nullptr));
    std::vector<std::optional<std::string>> values;
    for (auto& kv : kvs) values.push_back(kv ? std::optional(std::move(kv->value)) : std::nullopt);
    return values;
  }

  Result<std::int64_t> Add(std::string_view key, std::int64_t delta) override {
    TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    const std::string full = Full(key);
    TRAIN_ASSIGN_OR_RETURN(std::optional<EtcdKeyValue> kv, ReadOne(full));
    if (delta == 0 && kv) return ParseCounter(key, kv->value);  // nothing to write
    const std::string marker = NextMarker();
    const auto give_up = Clock::now() + std::max(options_.request_timeout, kMinContention);
    for (int races = 0;; ++races) {
      std::int64_t current = 0;
      if (kv) {
        TRAIN_ASSIGN_OR_RETURN(current, ParseCounter(key, kv->value));
      }
      std::int64_t sum = 0;
      if (__builtin_add_overflow(current, delta, &sum)) {
        return OutOfRangeError("adding " + std::to_string(delta) + " to key " + Quoted(key) +
                               " (holding " + std::to_string(current) + ") overflows int64");
      }
      const std::string text = std::to_string(sum);
      TRAIN_ASSIGN_OR_RETURN(
          Json answer,
          Txn(internal::EtcdCompareInt(full, "MOD", "EQUAL", kv ? kv->mod_revision : 0),
              Op("request_put", internal::EtcdPut(full, text, 0, /*ignore_lease=*/kv.has_value())),
              full, marker, text, "add to " + Quoted(key)));
      if (Succeeded(answer)) return sum;
      TRAIN_ASSIGN_OR_RETURN(std::optional<EtcdKeyValue> applied, FirstKv(answer, 1));
      if (applied) return ParseCounter(key, applied->value);  // our earlier try went through
      TRAIN_ASSIGN_OR_RETURN(kv, FirstKv(answer, 0));
      if (Clock::now() > give_up) {
        return AbortedError("add to key " + Quoted(key) + " lost " + std::to_string(races + 1) +
                            " races to other clients changing it; try again");
      }
      // Many clients adding at once (agents joining a round): spread the retries.
      thread_local std::minstd_rand jitter(std::random_device{}());
      std::this_thread::sleep_for(std::chrono::microseconds(jitter() % (200 * (races % 8 + 1))));
    }
  }

  // A ticket is the key's version, which etcd raises by one on every put of the key: one put,
  // and a read of the key in the same transaction, so no caller ever retries. A resent
  // transaction finds its marker and reads the key's version as of the marker's revision,
  // which is the revision its first send wrote.
  Result<std::int64_t> TakeTicket(std::string_view key) override {
    TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    const std::string full = Full(key);
    const std::string what = "take a ticket at " + Quoted(key);
    Json put_and_read = Json::array({Op("request_put", internal::EtcdPut(full, "")),
                                     Op("request_range", internal::EtcdRange(full))});
    TRAIN_ASSIGN_OR_RETURN(Json answer,
                           Txn(Json(), std::move(put_and_read), full, NextMarker(), "", what));
    std::optional<EtcdKeyValue> ticket;
    if (Succeeded(answer)) {
      TRAIN_ASSIGN_OR_RETURN(Json range, internal::EtcdTxnResponse(answer, 1, "response_range"));
      TRAIN_ASSIGN_OR_RETURN(std::vector<EtcdKeyValue> kvs, internal::EtcdKvs(range));
      if (!kvs.empty()) ticket = std::move(kvs.front());
    } else {
      TRAIN_ASSIGN_OR_RETURN(std::optional<EtcdKeyValue> marker, FirstKv(answer, 1));
      if (!marker)
        return AbortedError(what + ": the transaction neither applied nor left its marker");
      TRAIN_ASSIGN_OR_RETURN(ticket, ReadOne(full, marker->create_revision));
    }
    if (!ticket || ticket->version <= 0) {
      return DataLossError(what + ": etcd answered the put without the key's version");
    }
    return ticket->version;
  }

  Result<std::int64_t> TicketsTaken(std::string_view key) override {
    TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    TRAIN_ASSIGN_OR_RETURN(std::optional<EtcdKeyValue> kv, ReadOne(Full(key)));
    return kv ? kv->version : 0;
  }

  Result<std::optional<std::string>> CompareSet(std::string_view key,
                                                std::optional<std::string_view> expected,
                                                std::string_view desired) override {
    TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    const std::string full = Full(key);
    Json condition = expected ? internal::EtcdCompareValue(full, *expected)
                              : internal::EtcdCompareInt(full, "CREATE", "EQUAL", 0);
    // The key's lease (its expiry) stays; a key that did not exist has none to keep.
    Json put = internal::EtcdPut(full, desired, 0, /*ignore_lease=*/expected.has_value());
    TRAIN_ASSIGN_OR_RETURN(Json answer, Txn(std::move(condition), Op("request_put", std::move(put)),
                                            full, NextMarker(), "1", "compare-set " + Quoted(key)));
    TRAIN_ASSIGN_OR_RETURN(std::optional<EtcdKeyValue> applied, FirstKv(answer, 1));
    if (Succeeded(answer) || applied) return std::optional<std::string>(desired);
    TRAIN_ASSIGN_OR_RETURN(std::optional<EtcdKeyValue> now, FirstKv(answer, 0));
    if (!now) return std::optional<std::string>();
    return std::optional<std::string>(std::move(now->value));
  }

  Status Wait(const std::vector<std::string>& keys, Milliseconds timeout) override {
    return AwaitAll(keys, timeout).status();
  }

  Result<bool> Delete(std::string_view key) override {
    TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    const std::string full = Full(key);
    TRAIN_ASSIGN_OR_RETURN(Json answer,
                           Txn(internal::EtcdCompareInt(full, "VERSION", "GREATER", 0),
                               Op("request_delete_range", internal::EtcdDeleteKey(full)), full,
                               NextMarker(), "1", "delete " + Quoted(key)));
    TRAIN_ASSIGN_OR_RETURN(std::optional<EtcdKeyValue> applied, FirstKv(answer, 1));
    return Succeeded(answer) || applied.has_value();
  }

  Result<std::vector<std::string>> Keys(std::string_view prefix) override {
    if (!prefix.empty()) TRAIN_RETURN_IF_ERROR(internal::ValidateKey(prefix).WithContext("prefix"));
    TRAIN_ASSIGN_OR_RETURN(
        Json answer,
        Call("/v3/kv/range", internal::EtcdRangePrefix(Full(prefix), /*keys_only=*/true)));
    TRAIN_ASSIGN_OR_RETURN(std::vector<EtcdKeyValue> kvs, internal::EtcdKvs(answer));
    std::vector<std::string> keys;
    for (EtcdKeyValue& kv : kvs) {
      std::string key = kv.key.substr(std::min(kv.key.size(), options_.key_prefix.size()));
      // Transaction markers (and anything else that is no store key) are not the store's.
      if (internal::ValidateKey(key).ok()) keys.push_back(std::move(key));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

 private:
  std::string Full(std::string_view key) const { return options_.key_prefix + std::string(key); }

  Result<Json> Call(std::string_view path, const Json& body) {
    return client_->Call(path, body, options_.request_timeout);
  }

  std::string NextMarker() {
    return options_.key_prefix + " txn/" + client_id_ + "/" + std::to_string(++ops_);
  }

  // etcd counts leases in whole seconds (and raises short ones to its minimum).
  static std::int64_t LeaseSeconds(Milliseconds ttl) {
    return std::max<std::int64_t>(1, (ttl.count() + 999) / 1000);
  }

  Result<std::int64_t> GrantLease(std::int64_t seconds) {
    TRAIN_ASSIGN_OR_RETURN(Json answer, Call("/v3/lease/grant", Json{{"TTL", seconds}}));
    const std::int64_t id = internal::JsonInt64(answer, "ID");
    if (id == 0) return DataLossError(client_->Where() + " granted a lease without an id");
    return id;
  }

  // A key set again with the same ttl (a heartbeat) keeps its lease: renewing it is no raft
  // write, while a new lease per Set was two (the grant, and the old lease's expiry later)
  // besides the put. A lease that is gone (expired, revoked) is replaced by a new one.
  Status SetWithLease(std::string_view key, std::string_view value, std::int64_t seconds) {
    if (std::optional<std::int64_t> lease = KeyLease(key, seconds)) {
      TRAIN_ASSIGN_OR_RETURN(bool alive, RenewLease(*lease));
      if (alive) {
        Status put = Call("/v3/kv/put", internal::EtcdPut(Full(key), value, *lease)).status();
        if (!LeaseNotFound(put)) return put;
      }
      ForgetKeyLease(key);
    }
    TRAIN_ASSIGN_OR_RETURN(std::int64_t lease, GrantLease(seconds));
    TRAIN_RETURN_IF_ERROR(Call("/v3/kv/put", internal::EtcdPut(Full(key), value, lease)).status());
    std::lock_guard<std::mutex> lock(key_leases_mu_);
    if (key_leases_.size() >= kMaxKeyLeases) key_leases_.clear();
    key_leases_[std::string(key)] = {lease, seconds};
    return Status::Ok();
  }

  // Whether `lease` still lives; renewing it to its full ttl.
  Result<bool> RenewLease(std::int64_t lease) {
    TRAIN_ASSIGN_OR_RETURN(Json answer, Call("/v3/lease/keepalive", Json{{"ID", lease}}));
    const auto result = answer.find("result");
    if (result == answer.end() || !result->is_object()) {
      return DataLossError(client_->Where() + " answered a lease renewal without a result");
    }
    return internal::JsonInt64(*result, "TTL") > 0;
  }

  std::optional<std::int64_t> KeyLease(std::string_view key, std::int64_t seconds) {
    std::lock_guard<std::mutex> lock(key_leases_mu_);
    const auto found = key_leases_.find(key);
    if (found == key_leases_.end() || found->second.seconds != seconds) return std::nullopt;
    return found->second.id;
  }
  void ForgetKeyLease(std::string_view key) {
    std::lock_guard<std::mutex> lock(key_leases_mu_);
    if (const auto found = key_leases_.find(key); found != key_leases_.end()) {
      key_leases_.erase(found);
    }
  }

  // The lease of this client's markers, renewed when half its life has passed.
  Result<std::int64_t> MarkerLease(bool fresh) {
    std::lock_guard<std::mutex> lock(lease_mu_);
    if (fresh || marker_lease_ == 0 || Clock::now() - lease_granted_ > kMarkerTtl / 2) {
      TRAIN_ASSIGN_OR_RETURN(marker_lease_, GrantLease(LeaseSeconds(kMarkerTtl)));
      lease_granted_ = Clock::now();
    }
    return marker_lease_;
  }

  // A transaction: if `condition` holds (null: no condition) and `marker` is absent, `change`
  // (one op or an array of them) and create the marker (holding `result`); else read `key`
  // (response 0) and `marker` (response 1).
  Result<Json> Txn(Json condition, Json change, const std::string& key, const std::string& marker,
                   const std::string& result, const std::string& what) {
    for (bool fresh = false;; fresh = true) {
      TRAIN_ASSIGN_OR_RETURN(std::int64_t lease, MarkerLease(fresh));
      Json compare = Json::array({internal::EtcdCompareInt(marker, "CREATE", "EQUAL", 0)});
      if (!condition.is_null()) compare.push_back(condition);
      Json success = change.is_array() ? change : Json::array({change});
      success.push_back(Op("request_put", internal::EtcdPut(marker, result, lease)));
      Json failure = Json::array({Op("request_range", internal::EtcdRange(key)),
                                  Op("request_range", internal::EtcdRange(marker))});
      Result<Json> answer =
          Call("/v3/kv/txn",
               internal::EtcdTxn(std::move(compare), std::move(success), std::move(failure)));
      // The markers' lease is gone (revoked by hand, or expired across a long outage).
      if (!fresh && !answer.ok() && LeaseNotFound(answer.status())) continue;
      if (!answer.ok()) return answer.status().WithContext(what);
      return answer;
    }
  }

  // The first key-value of range response `index` of a transaction's answer.
  static Result<std::optional<EtcdKeyValue>> FirstKv(const Json& answer, std::size_t index) {
    if (Succeeded(answer)) return std::optional<EtcdKeyValue>();
    TRAIN_ASSIGN_OR_RETURN(Json range, internal::EtcdTxnResponse(answer, index, "response_range"));
    TRAIN_ASSIGN_OR_RETURN(std::vector<EtcdKeyValue> kvs, internal::EtcdKvs(range));
    if (kvs.empty()) return std::optional<EtcdKeyValue>();
    return std::optional<EtcdKeyValue>(std::move(kvs.front()));
  }

  // `full` now, or as of `revision` (0: now).
  Result<std::optional<EtcdKeyValue>> ReadOne(const std::string& full, std::int64_t revision = 0) {
    TRAIN_ASSIGN_OR_RETURN(Json answer, Call("/v3/kv/range", internal::EtcdRange(full, revision)));
    TRAIN_ASSIGN_OR_RETURN(std::vector<EtcdKeyValue> kvs, internal::EtcdKvs(answer));
    if (kvs.empty()) return std::optional<EtcdKeyValue>();
    return std::optional<EtcdKeyValue>(std::move(kvs.front()));
  }

  // `keys` now, in order, all as of one revision (written to `revision` when given).
  Result<std::vector<std::optional<EtcdKeyValue>>> ReadMany(const std::vector<std::string>& keys,
                                                            std::int64_t* revision) {
    for (const std::string& key : keys) TRAIN_RETURN_IF_ERROR(internal::ValidateKey(key));
    std::vector<std::optional<EtcdKeyValue>> out;
    std::int64_t at = 0;
    for (std::size_t begin = 0; begin < keys.size(); begin += kMaxOpsPerTxn) {
      const std::size_t end = std::min(keys.size(), begin + kMaxOpsPerTxn);
      Json reads = Json::array();
      for (std::size_t i = begin; i < end; ++i) {
        // Later batches read at the first one's revision: one snapshot however many keys.
        reads.push_back(Op("request_range", internal::EtcdRange(Full(keys[i]), at)));
      }
      TRAIN_ASSIGN_OR_RETURN(
          Json answer,
          Call("/v3/kv/txn", internal::EtcdTxn(Json::array(), std::move(reads), Json::array())));
      if (at == 0) at = internal::EtcdRevision(answer);
      for (std::size_t i = begin; i < end; ++i) {
        TRAIN_ASSIGN_OR_RETURN(Json range,
                               internal::EtcdTxnResponse(answer, i - begin, "response_range"));
        TRAIN_ASSIGN_OR_RETURN(std::vector<EtcdKeyValue> kvs, internal::EtcdKvs(range));
        out.push_back(kvs.empty() ? std::nullopt : std::optional(std::move(kvs.front())));
      }
    }
    if (revision != nullptr) *revision = at;
    return out;
  }

  // Waits until every key of `keys` is set; their values.
  Result<std::vector<std::optional<std::string>>> AwaitAll(const std::vector<std::string>& keys,
                                                           Milliseconds timeout);
  static std::string DeadlineMessage(const std::vector<std::string>& keys,
                                     const std::vector<std::optional<std::string>>& values,
                                     Milliseconds timeout);

  // A watch that outlived the Get or Wait that opened it (its deadline came first), kept for
  // the next call on the same keys until its span ends. Agents wait in slices of a few seconds;
  // a read and a new watch each slice (a connection, a request, a stream in etcd) from
  // thousands of waiting agents were most of etcd's work.
  struct ParkedWatch {
    std::vector<std::string> keys;
    std::string low, high;  // the first and last full key it watches
    std::unique_ptr<internal::EtcdWatch> watch;
    Clock::time_point span_end;
    // The keys' values when it was parked: every change up to `revision`, and every event the
    // stream delivered until then (the stream's later events go on from there).
    std::vector<std::optional<std::string>> values;
    std::int64_t revision = 0;
  };
  std::unique_ptr<ParkedWatch> TakeParked(const std::vector<std::string>& keys);
  // Keeps `watch` for the next wait on its keys, with what they held as of `revision`.
  void Park(std::unique_ptr<ParkedWatch> watch, std::vector<std::optional<std::string>> values,
            std::int64_t revision);

  const EtcdOptions options_;
  const std::unique_ptr<internal::EtcdClient> client_;
  const std::string client_id_;
  std::atomic<std::uint64_t> ops_{0};
  std::mutex lease_mu_;
  std::int64_t marker_lease_ = 0;
  Clock::time_point lease_granted_;
  struct LeaseOfKey {
    std::int64_t id = 0;
    std::int64_t seconds = 0;
  };
  std::mutex key_leases_mu_;
  std::map<std::string, LeaseOfKey, std::less<>> key_leases_;  // keys set with a ttl
  std::mutex parked_mu_;
  std::unique_ptr<ParkedWatch> parked_;  // one: the usual waiter's next slice
};

Result<std::vector<std::optional<std::string>>> EtcdStore::AwaitAll(
    const std::vector<std::string>& keys, Milliseconds timeout) {
  timeout = std::clamp(timeout, Milliseconds(0), internal::kMaxStoreTimeout);
  const auto deadline = Clock::now() + timeout;
  std::map<std::string, std::vector<std::size_t>> where;  // full key -> its places in `keys`
  for (std::size_t i = 0; i < keys.size(); ++i) where[Full(keys[i])].push_back(i);
  std::unique_ptr<ParkedWatch> open = TakeParked(keys);
  // A wait of a second or more goes on from where a parked stream stopped: the stream delivers
  // a change within milliseconds. A shorter one reads first, so that a set that finished before
  // it began is seen at once.
  bool resume = open != nullptr && timeout >= kResumeParkedAtLeast;
  for (;;) {
    std::vector<std::optional<std::string>> values;
    std::int64_t revision = 0;  // `values` holds every change up to it; events up to it are old
    if (resume) {
      resume = false;
      values = std::move(open->values);
      revision = open->revision;
    } else {
      // What is set now, and as of which revision: a new watch starts right after it, so no
      // set between the read and the watch is missed.
      TRAIN_ASSIGN_OR_RETURN(auto kvs, ReadMany(keys, &revision));
      for (auto& kv : kvs)
        values.push_back(kv ? std::optional(std::move(kv->value)) : std::nullopt);
    }
    std::vector<std::string> missing;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (!values[i]) missing.push_back(Full(keys[i]));
    }
    if (missing.empty()) return values;
    if (Clock::now() >= deadline) {
      std::string message = DeadlineMessage(keys, values, timeout);
      if (open) Park(std::move(open), std::move(values), revision);
      return DeadlineExceededError(message);
    }
    // One stream over the span of the missing keys; events for keys in between are skipped.
    const auto [low, high] = std::minmax_element(missing.begin(), missing.end());
    if (open && (*low < open->low || *high > open->high)) open.reset();  // a key it misses
    if (!open) {
      const std::string range_end = *low == *high ? std::string() : *high + std::string(1, '\0');
      const Milliseconds left = std::chrono::ceil<Milliseconds>(deadline - Clock::now());
      auto watch = client_->Watch(internal::EtcdWatchCreate(*low, range_end, revision + 1),
                                  std::min(options_.request_timeout, left));
      // Out of time while the watch opened: the caller's deadline ran out, not the member.
      if (!watch.ok() && Clock::now() >= deadline) {
        return DeadlineExceededError(DeadlineMessage(keys, values, timeout));
      }
      if (!watch.ok()) return watch.status();
      open = std::make_unique<ParkedWatch>();
      *open = ParkedWatch{
          keys, *low, *high, std::move(watch).value(), Clock::now() + internal::kEtcdWatchSpan,
          {},   0};
    }
    std::size_t unset = missing.size();
    bool healthy = true;
    while (unset > 0) {
      Result<std::optional<Json>> message = open->watch->Next(std::min(deadline, open->span_end));
      healthy = message.ok();
      if (!message.ok() || !message->has_value()) break;  // read again (and watch anew)
      TRAIN_ASSIGN_OR_RETURN(auto events, internal::EtcdEvents(**message));
      for (internal::EtcdEvent& event : events) {
        const auto found = where.find(event.kv.key);
        if (found == where.end() || event.kv.mod_revision <= revision) continue;
        for (std::size_t i : found->second) {
          if (event.deleted && values[i]) ++unset;
          if (!event.deleted && !values[i]) --unset;
          values[i] = event.deleted ? std::nullopt : std::optional(event.kv.value);
        }
      }
    }
    if (unset == 0) return values;
    const auto now = Clock::now();
    if (!healthy || now >= open->span_end) {
      open.reset();  // its stream broke or its span is over: read again, then watch anew
    } else if (now >= deadline) {
      std::string message = DeadlineMessage(keys, values, timeout);
      Park(std::move(open), std::move(values), revision);
      return DeadlineExceededError(message);
    }
  }
}

std::string EtcdStore::DeadlineMessage(const std::vector<std::string>& keys,
                                       const std::vector<std::optional<std::string>>& values,
                                       Milliseconds timeout) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!values[i]) names.push_back(keys[i]);
  }
  return internal::DeadlineMessage(keys, names, timeout);
}

std::unique_ptr<EtcdStore::ParkedWatch> EtcdStore::TakeParked(
    const std::vector<std::string>& keys) {
  std::lock_guard<std::mutex> lock(parked_mu_);
  if (!parked_ || parked_->keys != keys || Clock::now() >= parked_->span_end) return nullptr;
  return std::move(parked_);
}

void EtcdStore::Park(std::unique_ptr<ParkedWatch> watch,
                     std::vector<std::optional<std::string>> values, std::int64_t revision) {
  watch->values = std::move(values);
  watch->revision = revision;
  std::lock_guard<std::mutex> lock(parked_mu_);
  parked_ = std::move(watch);  // the one parked before, if any, is closed
}

Result<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return NotFoundError("cannot read the etcd password file \"" + path +
                         "\": check that it exists and is readable by this user");
  }
  std::ostringstream text;
  text << file.rdbuf();
  std::string password = text.str();
  while (!password.empty() && std::isspace(static_cast<unsigned char>(password.back()))) {
    password.pop_back();
  }
  if (password.empty()) {
    return InvalidArgumentError("the etcd password file \"" + path + "\" is empty");
  }
  return password;
}

}  // namespace

Result<std::unique_ptr<Store>> ConnectEtcdStore(const EtcdOptions& options) {
  for (char c : options.key_prefix) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return InvalidArgumentError("EtcdOptions.key_prefix " + Quoted(options.key_prefix) +
                                  " must be printable ASCII without spaces");
    }
  }
  TRAIN_ASSIGN_OR_RETURN(auto client, internal::EtcdClient::Create(options));
  // Names this client's transaction markers; unique among the job's clients.
  TRAIN_ASSIGN_OR_RETURN(std::string id, NewToken());
  return std::unique_ptr<Store>(
      std::make_unique<EtcdStore>(options, std::move(client), id.substr(0, 16)));
}

Result<std::int64_t> DeleteEtcdPrefix(const EtcdOptions& options) {
  if (options.key_prefix.empty()) {
    return InvalidArgumentError(
        "DeleteEtcdPrefix needs a key prefix: an empty one would delete every key of the cluster");
  }
  TRAIN_ASSIGN_OR_RETURN(auto client, internal::EtcdClient::Create(options));
  Json request = internal::EtcdRangePrefix(options.key_prefix, /*keys_only=*/false);
  TRAIN_ASSIGN_OR_RETURN(Json answer,
                         client->Call("/v3/kv/deleterange", request, options.request_timeout));
  return internal::JsonInt64(answer, "deleted");
}

std::string JobEtcdPrefix(std::string_view job_id) {
  return "/trainctl/" + std::string(job_id) + "/";
}

Result<EtcdOptions> JobEtcdOptions(const EtcdConfig& config, std::string_view job_id) {
  if (job_id.empty()) {
    return InvalidArgumentError(
        "an etcd store needs the job's id (TRAIN_JOB_ID) to keep its keys apart from other "
        "jobs' (under " +
        JobEtcdPrefix("<job>") + ")");
  }
  EtcdOptions options;
  options.endpoints = config.endpoints;
  options.key_prefix = JobEtcdPrefix(job_id);
  options.username = config.username;
  if (!config.password_file.empty()) {
    TRAIN_ASSIGN_OR_RETURN(options.password, ReadPasswordFile(config.password_file));
  }
  options.ca_file = config.ca_file;
  options.cert_file = config.cert_file;
  options.key_file = config.key_file;
  return options;
}

}  // namespace train
