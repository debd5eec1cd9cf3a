#include "rendezvous.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "store_endpoint.h"

namespace trainctl::agent {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using train::Result;
using train::Status;
using train::StatusCode;

constexpr Milliseconds kRetryFirst{20};
constexpr Milliseconds kRetryMax{500};
// How long one blocking wait lasts before checking for cancellation and deadlines.
constexpr Milliseconds kWaitSlice{2000};
// How often an agent waiting for its round checks that the others did not move on.
constexpr Milliseconds kFollowCheckEvery{30000};
// A round's "closed" key holds this and the newer round when agents moved on without closing it.
constexpr char kSupersededPrefix[] = "superseded by ";
// How long a diagnosis waits for a TCP connection to the store.
constexpr Milliseconds kDiagnoseConnect{500};
// The closer reads and writes the members' keys this many per request: one request over 4096
// keys holds a store's thread about 13 ms, and every other client's request waits behind it.
constexpr std::size_t kCloseSlice = 512;

std::vector<std::string> CloseSliceAt(const std::vector<std::string>& keys, std::size_t begin) {
  const auto first = keys.begin() + static_cast<std::ptrdiff_t>(begin);
  return {first, first + static_cast<std::ptrdiff_t>(std::min(kCloseSlice, keys.size() - begin))};
}

json ToJson(const NodeInfo& n) {
  return {{"agent", n.agent_id},      {"host", n.host},
          {"hint", n.node_rank_hint}, {"next_restart", n.next_restart},
          {"launch", n.launch_id},    {"store_at", n.store_at}};
}

Result<std::int64_t> ParseInt(const std::string& text, std::string_view what) {
  try {
    std::size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (...) {
  }
  return train::DataLossError(std::string(what) + " holds \"" + text + "\", not an integer");
}

}  // namespace

Result<NodeInfo> ParseNodeInfo(const std::string& text) {
  try {
    const json j = json::parse(text);
    return NodeInfo{j.at("agent").get<std::string>(), j.at("host").get<std::string>(),
                    j.at("hint").get<int>(),          j.at("next_restart").get<int>(),
                    j.value("launch", std::string()), j.value("store_at", std::string())};
  } catch (const json::exception& e) {
    return train::DataLossError(std::string("malformed member record in the store: ") + e.what());
  }
}

std::string RoundKey(std::int64_t round, std::string_view name) {
  return "round/" + std::to_string(round) + "/" + std::string(name);
}

Rendezvous::Rendezvous(train::Store* job_store, RendezvousConfig config, NodeInfo self,
                       train::internal::OsEnv* env)
    : store_(job_store), config_(config), self_(std::move(self)), env_(env) {}

Clock::time_point Rendezvous::Now() const { return env_->SteadyNow(); }

Milliseconds Rendezvous::Remaining(Clock::time_point deadline) const {
  return std::max(Milliseconds(1), std::chrono::duration_cast<Milliseconds>(deadline - Now()));
}

Result<Round> Rendezvous::Join(std::int64_t min_round, const std::atomic<bool>& cancelled) {
  deadline_ = Now() + config_.join_timeout;
  std::int64_t r = min_round;
  Milliseconds backoff = kRetryFirst;
  Status last_error;
  auto next_log = Now();
  while (true) {
    if (cancelled) return train::CancelledError("stopped while joining a round");
    if (Now() >= deadline_) {
      std::string why = last_error.ok() ? "" : " (last error: " + last_error.ToString() + ")";
      if (!last_error.ok() && !config_.store.host.empty()) {
        const std::string now = DiagnoseStore(config_.store, kDiagnoseConnect);
        if (!now.empty()) why = " (the store at " + config_.store.ToString() + ": " + now + ")";
      }
      return train::DeadlineExceededError("no round formed within the join timeout of " +
                                          std::to_string(config_.join_timeout.count()) +
                                          " ms with at least " + std::to_string(config_.min_nodes) +
                                          " node(s)" + why);
    }
    auto attempt = TryRound(r, cancelled);
    if (!attempt.ok()) {
      // The store is not up yet, or restarting (its state is soft): try again.
      if (attempt.status().code() != StatusCode::kUnavailable &&
          attempt.status().code() != StatusCode::kDeadlineExceeded) {
        return attempt.status();
      }
      last_error = attempt.status();
      if (config_.log && Now() >= next_log) {
        // Diagnosed afresh each time: the name resolves again (a replaced pod 0 moves).
        std::string reason = DiagnoseStore(config_.store, kDiagnoseConnect);
        if (reason.empty()) reason = last_error.message();
        config_.log("waiting for the store at " + config_.store.ToString() + ": " + reason);
        next_log = Now() + config_.log_every;
      }
      std::this_thread::sleep_for(std::min(backoff, Remaining(deadline_)));
      backoff = std::min(backoff * 2, kRetryMax);
      continue;
    }
    backoff = kRetryFirst;
    if (attempt->round) return *attempt->round;
    r = attempt->next;
  }
}

Result<std::int64_t> SlotOfNode(train::Store* job_store, std::int64_t round, int node_rank) {
  TRAIN_ASSIGN_OR_RETURN(auto order, job_store->TryGet(RoundKey(round, "order")));
  if (!order)
    return train::NotFoundError("round " + std::to_string(round) + " has no order record");
  std::istringstream in(*order);
  std::int64_t slot = 0;
  for (int node = 0; in >> slot; ++node) {
    if (node == node_rank) return slot;
  }
  return train::NotFoundError("round " + std::to_string(round) + " has no node " +
                              std::to_string(node_rank));
}

Result<std::int64_t> Rendezvous::BumpCurrent(std::int64_t r, std::optional<std::string> current) {
  while (true) {
    // No key yet means round 0: the first round costs no write (at thousands of agents joining
    // at once, each would compare-and-set it, and on etcd each is a Raft write).
    std::int64_t abandoned = 0;
    if (current) {
      TRAIN_ASSIGN_OR_RETURN(abandoned, ParseInt(*current, kCurrentKey));
    }
    if (abandoned >= r) return abandoned;
    const std::string desired = std::to_string(r);
    TRAIN_ASSIGN_OR_RETURN(auto after, store_->CompareSet(kCurrentKey, current, desired));
    if (!after || *after != desired) {
      current = std::move(after);  // another agent moved it first: judge its value
      continue;
    }
    // Agents waiting in the abandoned round wake now rather than at their next poll; a round
    // that closed meanwhile keeps its record.
    (void)store_->CompareSet(RoundKey(abandoned, "closed"), std::nullopt,
                             kSupersededPrefix + desired);
    return r;
  }
}

Result<Rendezvous::Attempt> Rendezvous::TryRound(std::int64_t r,
                                                 const std::atomic<bool>& cancelled) {
  // One request for both: at thousands of agents every request per join counts.
  TRAIN_ASSIGN_OR_RETURN(auto now, store_->MultiGet({kOutcomeKey, kCurrentKey}));
  if (now[0]) return train::AbortedError("the job has already ended: " + *now[0]);
  TRAIN_ASSIGN_OR_RETURN(r, BumpCurrent(r, std::move(now[1])));
  // A ticket, not Add: on etcd thousands of agents adding to one counter retry O(N^2) times.
  TRAIN_ASSIGN_OR_RETURN(std::int64_t slot, store_->TakeTicket(RoundKey(r, "joined")));
  if (my_round_ != r) my_slots_.clear();
  my_round_ = r;
  my_slots_.push_back(slot);
  TRAIN_RETURN_IF_ERROR(
      store_->Set(RoundKey(r, "member/" + std::to_string(slot)), ToJson(self_).dump()));
  const auto joined_at = Now();
  const bool member = slot <= config_.max_nodes;
  if (slot == config_.max_nodes) TRAIN_RETURN_IF_ERROR(Close(r, slot));

  std::string closed;
  auto next_follow_check = joined_at + kFollowCheckEvery;
  while (true) {
    if (cancelled) return train::CancelledError("stopped while joining round " + std::to_string(r));
    Milliseconds wait = std::min(kWaitSlice, Remaining(deadline_));
    const bool may_close = member && slot >= config_.min_nodes;
    if (may_close) wait = std::min(wait, Remaining(joined_at + config_.last_call));
    auto got = store_->Get(RoundKey(r, "closed"), wait);
    if (got.ok() && got->rfind(kSupersededPrefix, 0) == 0) {
      TRAIN_ASSIGN_OR_RETURN(std::int64_t newer,
                             ParseInt(got->substr(std::strlen(kSupersededPrefix)), "closed"));
      return Attempt{std::nullopt, newer};
    }
    if (got.ok()) {
      closed = *got;
      break;
    }
    if (got.status().code() != StatusCode::kDeadlineExceeded) return got.status();
    if (Now() >= deadline_) return got.status();
    // Others moved on to a newer round without waking this one (its "closed" key could not be
    // set, after a store restart, say): follow them. Seldom, as each check is a request from
    // every waiting agent.
    if (Now() >= next_follow_check) {
      next_follow_check = Now() + kFollowCheckEvery;
      TRAIN_ASSIGN_OR_RETURN(auto current, store_->TryGet(kCurrentKey));
      if (current) {
        TRAIN_ASSIGN_OR_RETURN(std::int64_t newest, ParseInt(*current, kCurrentKey));
        if (newest > r) return Attempt{std::nullopt, newest};
      }
    }
    // The last-call window after min nodes joined has passed: close with whoever is here.
    if (may_close && Now() >= joined_at + config_.last_call) {
      TRAIN_ASSIGN_OR_RETURN(std::int64_t joined, store_->TicketsTaken(RoundKey(r, "joined")));
      TRAIN_RETURN_IF_ERROR(Close(r, std::min<std::int64_t>(joined, config_.max_nodes)));
    }
  }

  return ReadClosed(r, closed, cancelled);
}

Result<Rendezvous::Attempt> Rendezvous::ReadClosed(std::int64_t r, const std::string& closed,
                                                   const std::atomic<bool>& cancelled) {
  Round round;
  round.id = r;
  try {
    const json record = json::parse(closed);
    round.node_count = record.at("size").get<int>();
    round.restart_count = record.value("restart_count", 0);
    round.launch_id = record.value("launch", std::string());
    for (const json& s : record.value("successors", json::array())) {
      round.successors.push_back(s.get<std::string>());
    }
  } catch (const json::exception& e) {
    return train::DataLossError("malformed round record in the store: " + std::string(e.what()));
  }
  // This agent's node rank is under the slot it took (or an earlier one, after a retry).
  std::vector<std::string> rank_keys;
  for (std::int64_t slot : my_slots_)
    rank_keys.push_back(RoundKey(r, "rank/" + std::to_string(slot)));
  TRAIN_ASSIGN_OR_RETURN(auto ranks, store_->MultiGet(rank_keys));
  for (const auto& rank : ranks) {
    if (!rank) continue;
    TRAIN_ASSIGN_OR_RETURN(std::int64_t node_rank, ParseInt(*rank, "a node rank"));
    round.node_rank = static_cast<int>(node_rank);
    return Attempt{round, r};
  }
  // Left out of round r (it closed before this node arrived). With room for more nodes, end
  // the round so that the next one includes this node; when it is full, wait as a spare.
  if (round.num_nodes() < config_.max_nodes) {
    TRAIN_RETURN_IF_ERROR(store_
                              ->CompareSet(RoundKey(r, "restart"), std::nullopt,
                                           "node " + self_.host + " is waiting to join")
                              .status());
  } else {
    TRAIN_RETURN_IF_ERROR(WaitRoundOver(r, cancelled));
  }
  return Attempt{std::nullopt, r + 1};
}

Status Rendezvous::Close(std::int64_t r, std::int64_t size) {
  const std::string claim = std::to_string(size) + " " + self_.agent_id;
  TRAIN_ASSIGN_OR_RETURN(auto winner, store_->CompareSet(RoundKey(r, "size"), std::nullopt, claim));
  if (!winner || *winner != claim) return Status::Ok();  // another agent closes this round

  std::vector<std::string> keys;
  for (std::int64_t slot = 1; slot <= size; ++slot) {
    keys.push_back(RoundKey(r, "member/" + std::to_string(slot)));
  }
  std::vector<std::optional<std::string>> records;
  for (std::size_t begin = 0; begin < keys.size(); begin += kCloseSlice) {
    const std::vector<std::string> slice = CloseSliceAt(keys, begin);
    TRAIN_RETURN_IF_ERROR(store_->Wait(slice, Remaining(deadline_)));
    TRAIN_ASSIGN_OR_RETURN(auto read, store_->MultiGet(slice));
    records.insert(records.end(), std::make_move_iterator(read.begin()),
                   std::make_move_iterator(read.end()));
  }
  struct Slot {
    NodeInfo info;
    std::int64_t slot;
  };
  std::vector<Slot> slots;
  for (std::int64_t slot = 1; slot <= size; ++slot) {
    const auto& text = records[static_cast<std::size_t>(slot - 1)];
    if (!text) continue;  // vanished: the store restarted mid-round; the round will be redone
    TRAIN_ASSIGN_OR_RETURN(NodeInfo info, ParseNodeInfo(*text));
    // An agent that retried after a transient error may hold two slots: keep its first.
    bool seen = std::any_of(slots.begin(), slots.end(),
                            [&](const Slot& s) { return s.info.agent_id == info.agent_id; });
    if (!seen) slots.push_back({std::move(info), slot});
  }
  // Node order: explicit node ranks first (ascending), then the others in join order.
  std::stable_sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) {
    int ka = a.info.node_rank_hint < 0 ? INT_MAX : a.info.node_rank_hint;
    int kb = b.info.node_rank_hint < 0 ? INT_MAX : b.info.node_rank_hint;
    return ka != kb ? ka < kb : a.slot < b.slot;
  });
  // Each member's node rank under its own slot, so that an agent reads a few bytes of its own
  // rather than the whole order; the order itself for naming a member's host.
  std::vector<std::string> keys_out, values_out;
  std::string order;
  json successors = json::array();
  int restart_count = 0;
  std::string launch_id;
  for (std::size_t rank = 0; rank < slots.size(); ++rank) {
    const Slot& s = slots[rank];
    keys_out.push_back(RoundKey(r, "rank/" + std::to_string(s.slot)));
    values_out.push_back(std::to_string(rank));
    order += (rank == 0 ? "" : " ") + std::to_string(s.slot);
    const std::string& at = s.info.store_at;
    if (!at.empty() && successors.size() < kMaxSuccessors &&
        std::find(successors.begin(), successors.end(), at) == successors.end()) {
      successors.push_back(at);
    }
    if (launch_id.empty() || s.info.next_restart > restart_count) launch_id = s.info.launch_id;
    restart_count = std::max(restart_count, s.info.next_restart);
  }
  keys_out.push_back(RoundKey(r, "order"));
  values_out.push_back(order);
  for (std::size_t begin = 0; begin < keys_out.size(); begin += kCloseSlice) {
    TRAIN_RETURN_IF_ERROR(
        store_->MultiSet(CloseSliceAt(keys_out, begin), CloseSliceAt(values_out, begin)));
  }
  // Last: waking every agent, which then finds its rank already there.
  json record = {{"size", slots.size()},
                 {"restart_count", restart_count},
                 {"launch", launch_id},
                 {"successors", successors}};
  return store_->Set(RoundKey(r, "closed"), record.dump());
}

Status Rendezvous::WaitRoundOver(std::int64_t r, const std::atomic<bool>& cancelled) {
  while (!cancelled && Now() < deadline_) {
    auto over = store_->Get(RoundKey(r, "restart"), std::min(kWaitSlice, Remaining(deadline_)));
    if (over.ok()) return Status::Ok();
    if (over.status().code() != StatusCode::kDeadlineExceeded) return over.status();
    TRAIN_ASSIGN_OR_RETURN(auto outcome, store_->TryGet(kOutcomeKey));
    if (outcome) return train::AbortedError("the job has already ended: " + *outcome);
  }
  if (cancelled) return train::CancelledError("stopped while waiting as a spare node");
  return train::DeadlineExceededError("round " + std::to_string(r) +
                                      " is full and did not end within the join timeout");
}

}  // namespace trainctl::agent
