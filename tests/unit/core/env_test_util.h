// Shared expectations of the worker environment tests.
#ifndef TRAIN_TESTS_UNIT_CORE_ENV_TEST_UTIL_H_
#define TRAIN_TESTS_UNIT_CORE_ENV_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <map>
#include <string>

#include "train/env.h"

namespace train::testing_env {

using Vars = std::map<std::string, std::string>;

// Expects an InvalidArgument error whose message contains every fragment.
inline void ExpectError(const Vars& vars, std::initializer_list<std::string> fragments) {
  Result<WorkerEnv> env = WorkerEnv::FromVariables(vars);
  ASSERT_FALSE(env.ok()) << "accepted: " << env->Describe();
  EXPECT_EQ(env.status().code(), StatusCode::kInvalidArgument) << env.status();
  for (const std::string& fragment : fragments) {
    EXPECT_THAT(env.status().message(), ::testing::HasSubstr(fragment));
  }
}

// The environment `vars` describe; a test failure (and a default WorkerEnv) when invalid.
inline WorkerEnv MustRead(const Vars& vars) {
  Result<WorkerEnv> env = WorkerEnv::FromVariables(vars);
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *env : WorkerEnv();
}

}  // namespace train::testing_env

#endif  // TRAIN_TESTS_UNIT_CORE_ENV_TEST_UTIL_H_
