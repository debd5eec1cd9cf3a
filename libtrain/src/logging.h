// Internal logging for libtrain's own code: spdlog's formatting behind the public train/log.h.
#ifndef TRAIN_SRC_LOGGING_H_
#define TRAIN_SRC_LOGGING_H_

#include <spdlog/spdlog.h>

namespace train::internal {

// The logger behind train::Log; created on first use with the rank-prefixed pattern.
spdlog::logger& Logger();

}  // namespace train::internal

#define TRAIN_LOG_DEBUG(...) ::train::internal::Logger().debug(__VA_ARGS__)
#define TRAIN_LOG_INFO(...) ::train::internal::Logger().info(__VA_ARGS__)
#define TRAIN_LOG_WARN(...) ::train::internal::Logger().warn(__VA_ARGS__)
#define TRAIN_LOG_ERROR(...) ::train::internal::Logger().error(__VA_ARGS__)

#endif  // TRAIN_SRC_LOGGING_H_
