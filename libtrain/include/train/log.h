// Logging: one line per event, prefixed with the worker's rank so that the multiplexed output
// of many workers stays readable ("[12:00:01.123] [rank 3] [info] epoch 1 loss 0.41").
#ifndef TRAIN_LOG_H_
#define TRAIN_LOG_H_

#include <string_view>

#include "train/status.h"

namespace train {

enum class LogLevel { kDebug, kInfo, kWarning, kError, kOff };

// Parses "debug", "info", "warning" (or "warn"), "error", "off".
Result<LogLevel> ParseLogLevel(std::string_view text);

// Prefix every following line with "[rank N]"; a negative rank removes the prefix.
void SetLogRank(int rank);
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Writes one line to stderr (thread-safe).
void Log(LogLevel level, std::string_view message);
inline void LogDebug(std::string_view message) { Log(LogLevel::kDebug, message); }
inline void LogInfo(std::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(std::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(std::string_view message) { Log(LogLevel::kError, message); }

}  // namespace train

#endif  // TRAIN_LOG_H_
