#include "status_line.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "rendezvous.h"
#include "train/internal/job_keys.h"
#include "train/store.h"
#include "train/worker.h"

namespace trainctl::cli {
namespace {

constexpr std::chrono::milliseconds kRefresh{250};

std::string Elapsed(std::chrono::steady_clock::duration d) {
  const long long s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  char text[32];
  std::snprintf(text, sizeof(text), "%02lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return text;
}

// "round 2 | 8 ranks up | step 1200 | restarts 1 | 00:01:05", from what the store holds now
// (the step is rank 0's, which node 0's agent publishes from its reports).
std::string Describe(train::Store* job_store, std::chrono::steady_clock::duration elapsed) {
  std::string round_text = "joining", ranks, step, restarts = "0";
  // No "current" key yet means round 0 (the first round does not write it).
  auto current = job_store->TryGet(agent::kCurrentKey);
  std::int64_t round = 0;
  if (current.ok() && *current) {
    const auto [end, error] =
        std::from_chars((*current)->data(), (*current)->data() + (*current)->size(), round);
    if (error != std::errc() || end != (*current)->data() + (*current)->size()) round = -1;
  }
  auto closed = job_store->TryGet(agent::RoundKey(round, "closed"));
  const bool formed = round >= 0 && closed.ok() && *closed;
  if (formed || round > 0) {
    round_text = "round " + std::to_string(round);
    if (formed) {
      try {
        restarts = std::to_string(nlohmann::json::parse(**closed).value("restart_count", 0));
      } catch (const nlohmann::json::exception&) {
      }
    }
    auto workers = job_store->Keys(agent::RoundKey(round, "worker/"));
    if (workers.ok() && !workers->empty()) ranks = std::to_string(workers->size()) + " ranks up | ";
    auto progress = job_store->TryGet(agent::RoundKey(round, agent::kProgressKey));
    if (progress.ok() && *progress) step = "step " + **progress + " | ";
  }
  return round_text + " | " + ranks + step + "restarts " + restarts + " | " + Elapsed(elapsed);
}

}  // namespace

StatusLine::StatusLine(agent::Terminal* terminal,
                       std::function<train::Result<std::unique_ptr<train::Store>>()> connect,
                       std::string job_id)
    : terminal_(terminal) {
  if (!terminal->is_tty()) return;
  thread_ = std::thread([this, connect = std::move(connect), job_id = std::move(job_id)] {
    auto client = connect();
    if (!client.ok()) return;
    auto job_store = train::NewPrefixStore(train::internal::JobKeyPrefix(job_id), client->get());
    const auto start = std::chrono::steady_clock::now();
    while (!stop_) {
      terminal_->SetStatus(Describe(job_store.get(), std::chrono::steady_clock::now() - start));
      for (auto slept = std::chrono::milliseconds(0); slept < kRefresh && !stop_;
           slept += std::chrono::milliseconds(25)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
    }
  });
}

void StatusLine::Stop() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
    terminal_->SetStatus("");
  }
}

}  // namespace trainctl::cli
