#include "logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <mutex>
#include <string>

#include "train/log.h"

namespace train {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::string PatternFor(int rank) {
  std::string prefix = rank >= 0 ? "[rank " + std::to_string(rank) + "] " : std::string();
  return "[%H:%M:%S.%e] " + prefix + "[%l] %v";
}

}  // namespace

namespace internal {

spdlog::logger& Logger() {
  // A private logger (not registered globally) so that a host program's spdlog setup and
  // libtrain's never step on each other.
  static spdlog::logger* logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* l = new spdlog::logger("train", std::move(sink));
    l->set_pattern(PatternFor(-1));
    l->set_level(ToSpd(g_level.load()));
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

}  // namespace internal

Result<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warning" || text == "warn") return LogLevel::kWarning;
  if (text == "error") return LogLevel::kError;
  if (text == "off") return LogLevel::kOff;
  return InvalidArgumentError("unknown log level \"" + std::string(text) +
                              "\"; use one of debug, info, warning, error, off");
}

void SetLogRank(int rank) { internal::Logger().set_pattern(PatternFor(rank)); }

void SetLogLevel(LogLevel level) {
  g_level.store(level);
  internal::Logger().set_level(ToSpd(level));
}

LogLevel GetLogLevel() { return g_level.load(); }

void Log(LogLevel level, std::string_view message) {
  internal::Logger().log(ToSpd(level), "{}", message);
}

}  // namespace train
