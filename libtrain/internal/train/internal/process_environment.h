// The process's environment as a map: the one reader of environ besides
// WorkerEnv::FromEnvironment (which calls it). Launchers build their children's environment
// from it; the plugin loader and the step reporter look up their own variables in it
// (train/internal/env_names.h).
#ifndef TRAIN_INTERNAL_PROCESS_ENVIRONMENT_H_
#define TRAIN_INTERNAL_PROCESS_ENVIRONMENT_H_

#include <map>
#include <string>

namespace train::internal {

std::map<std::string, std::string> ProcessEnvironment();

}  // namespace train::internal

#endif  // TRAIN_INTERNAL_PROCESS_ENVIRONMENT_H_
