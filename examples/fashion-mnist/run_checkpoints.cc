#include "run_checkpoints.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <vector>

#include "train/log.h"

namespace fashion_mnist {
namespace {

namespace fs = std::filesystem;

constexpr char kRunPrefix[] = "run-";
// Room for the name in the broadcast; a name never comes close.
constexpr std::size_t kNameBytes = 128;

std::string NewRunName() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char name[64];
  std::snprintf(name, sizeof(name), "%s%04d%02d%02d-%02d%02d%02d.%03lld", kRunPrefix,
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                utc.tm_sec, static_cast<long long>(millis));
  return name;
}

// The run directories under `root`, oldest first (the names sort by time).
std::vector<std::string> RunNames(const fs::path& root) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kRunPrefix, 0) == 0 && entry.is_directory(ec)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Rank 0's choice: the run directory's name, created.
train::Result<std::string> ChooseOnRankZero(const fs::path& root, int restart_count) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return train::UnavailableError("cannot create the checkpoint directory " + root.string() +
                                   ": " + ec.message() +
                                   "; fix spec.checkpoint.dir or --checkpoint-dir");
  }
  std::vector<std::string> runs = RunNames(root);
  if (restart_count > 0 && !runs.empty()) return runs.back();
  if (restart_count > 0) {
    train::LogWarning("restart " + std::to_string(restart_count) + " found no run directory in " +
                      root.string() + "; starting a new run");
  }
  std::string name = NewRunName();
  while (std::find(runs.begin(), runs.end(), name) != runs.end()) name = NewRunName();
  fs::create_directory(root / name, ec);
  if (ec) {
    return train::UnavailableError("cannot create " + (root / name).string() + ": " + ec.message());
  }
  runs.push_back(name);
  for (std::size_t i = 0; i + kRunsKept < runs.size(); ++i) fs::remove_all(root / runs[i], ec);
  return name;
}

}  // namespace

train::Result<std::string> RunCheckpointDir(const std::string& root, int restart_count,
                                            train::Communicator& comm) {
  std::array<char, kNameBytes> name{};  // empty: rank 0 failed
  train::Status rank_zero_status = train::Status::Ok();
  if (comm.rank() == 0) {
    auto chosen = ChooseOnRankZero(root, restart_count);
    if (chosen.ok()) {
      std::copy_n(chosen->begin(), std::min(chosen->size(), kNameBytes - 1), name.begin());
    } else {
      rank_zero_status = chosen.status();
    }
  }
  train::TensorView view{name.data(), train::DType::kUInt8, name.size()};
  TRAIN_RETURN_IF_ERROR(comm.Broadcast(view, /*root=*/0)->Wait());
  if (!rank_zero_status.ok()) return rank_zero_status;
  if (name[0] == '\0') {
    return train::UnavailableError("rank 0 could not choose a checkpoint directory under " + root +
                                   " (its log says why)");
  }
  return (fs::path(root) / std::string(name.data())).string();
}

}  // namespace fashion_mnist
