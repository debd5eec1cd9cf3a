// A program outside the project that links an installed libtrain: it exercises the public API
// a worker starts with and exits non-zero on the first mismatch, naming it.
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <string_view>

#include "train/env.h"
#include "train/status.h"
#include "train/version.h"

namespace {

int failures = 0;

void Expect(bool ok, std::string_view what) {
  if (!ok) {
    std::cerr << "consumer: FAILED: " << what << "\n";
    ++failures;
  }
}

train::Result<int> ParsePositive(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return train::InvalidArgumentError("not a positive integer: '" + text + "'");
  }
  return std::stoi(text);
}

// Goes through TRAIN_ASSIGN_OR_RETURN twice: the error of the second call must come back.
train::Status SumInto(const std::string& a, const std::string& b, int* sum) {
  TRAIN_ASSIGN_OR_RETURN(int x, ParsePositive(a));
  TRAIN_ASSIGN_OR_RETURN(int y, ParsePositive(b));
  *sum = x + y;
  return train::Status::Ok();
}

void CheckStatus() {
  int sum = 0;
  train::Status status = SumInto("40", "2", &sum);
  Expect(status.ok() && sum == 42, "SumInto(40, 2) gives 42: " + status.ToString());

  status = SumInto("40", "x2", &sum);
  Expect(status.code() == train::StatusCode::kInvalidArgument,
         "SumInto(40, x2) is INVALID_ARGUMENT: " + status.ToString());
  Expect(status.message().find("x2") != std::string::npos,
         "the error names the bad value: " + status.ToString());
  Expect(status.WithContext("parsing").ToString().find("parsing: ") != std::string::npos,
         "WithContext prefixes the message: " + status.WithContext("parsing").ToString());

  train::Result<int> missing = ParsePositive("");
  Expect(!missing.ok() && missing.value_or(-1) == -1, "an empty string has no value");
}

void CheckVersion() {
  const std::string_view version = train::LibraryVersion();
  Expect(version == TRAIN_EXPECTED_VERSION,
         "LibraryVersion() is " TRAIN_EXPECTED_VERSION ", got " + std::string(version));
}

void CheckWorkerEnv() {
  const std::map<std::string, std::string> vars = {
      {"TRAIN_RANK", "5"},
      {"TRAIN_WORLD_SIZE", "8"},
      {"TRAIN_LOCAL_RANK", "1"},
      {"TRAIN_LOCAL_WORLD_SIZE", "4"},
      {"TRAIN_NODE_RANK", "1"},
      {"TRAIN_NUM_NODES", "2"},
      {"TRAIN_STORE_ADDR", "127.0.0.1:29500"},
      {"TRAIN_JOB_ID", "mnist"},
      {"TRAIN_RUN_ID", "r2"},
      {"TRAIN_RESTART_COUNT", "1"},
  };
  train::Result<train::WorkerEnv> env = train::WorkerEnv::FromVariables(vars);
  if (!env.ok()) {
    Expect(false, "FromVariables accepts a trainctl environment: " + env.status().ToString());
    return;
  }
  Expect(env->launcher == train::Launcher::kTrainctl,
         "the launcher is trainctl, got " + std::string(train::LauncherName(env->launcher)));
  Expect(env->rank == 5 && env->world_size == 8, "rank 5 of 8: " + env->Describe());
  Expect(env->local_rank == 1 && env->local_world_size == 4 && env->node_rank == 1,
         "local 1 of 4 on node 1: " + env->Describe());
  Expect(env->store.has_value() && env->store->host == "127.0.0.1" && env->store->port == 29500,
         "the store is 127.0.0.1:29500");
  Expect(env->job_id == "mnist" && env->run_id == "r2" && env->restart_count == 1,
         "job mnist, round r2, restart 1: " + env->Describe());

  std::map<std::string, std::string> bad = vars;
  bad["TRAIN_RANK"] = "three";
  train::Result<train::WorkerEnv> rejected = train::WorkerEnv::FromVariables(bad);
  Expect(!rejected.ok() && rejected.status().code() == train::StatusCode::kInvalidArgument,
         "TRAIN_RANK=three is INVALID_ARGUMENT: " + rejected.status().ToString());
  Expect(rejected.status().message().find("TRAIN_RANK") != std::string::npos,
         "the error names TRAIN_RANK: " + rejected.status().ToString());
}

}  // namespace

int main() {
  CheckStatus();
  CheckVersion();
  CheckWorkerEnv();
  if (failures != 0) {
    std::cerr << "consumer: " << failures << " check(s) failed\n";
    return EXIT_FAILURE;
  }
  std::cout << "consumer: libtrain " << train::LibraryVersion() << " OK\n";
  return EXIT_SUCCESS;
}
