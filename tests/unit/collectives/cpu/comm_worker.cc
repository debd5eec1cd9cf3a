// A worker for the process tests. Joins either through the job's environment (under trainctl
// run) or through --store/--token-file/--rank/--world, runs `ops` all-reduces whose results it
// checks, and can stage a failure: SIGKILL itself in the middle of op K, or stop calling.
// With --buckets 1 each op is a step of GradientBuckets over 8 gradients of count/8 floats
// (several buckets), and the dying rank dies after marking half of them.
//
//   collectives_test_worker [--store H:P --token-file F --rank R --world N]
//       [--ops K] [--count N] [--die-rank R --die-at K] [--stall-rank R --stall-at K]
//       [--timeout-ms T] [--host-id ID] [--buckets 1]
// Exit: 0 every op right; 1 an op failed (its status on stderr); 2 a wrong result.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "train/communicator.h"
#include "train/grad_buckets.h"
#include "train/store.h"
#include "train/worker.h"

namespace {

struct Args {
  std::string store, token_file, host_id;
  int rank = -1, world = 0, ops = 5, die_rank = -1, die_at = -1, stall_rank = -1, stall_at = -1;
  bool buckets = false;
  long count = 1 << 20, timeout_ms = 30000;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* v = argv[i + 1];
    if (flag == "--store")
      a.store = v;
    else if (flag == "--token-file")
      a.token_file = v;
    else if (flag == "--host-id")
      a.host_id = v;
    else if (flag == "--rank")
      a.rank = std::atoi(v);
    else if (flag == "--world")
      a.world = std::atoi(v);
    else if (flag == "--ops")
      a.ops = std::atoi(v);
    else if (flag == "--count")
      a.count = std::atol(v);
    else if (flag == "--die-rank")
      a.die_rank = std::atoi(v);
    else if (flag == "--die-at")
      a.die_at = std::atoi(v);
    else if (flag == "--stall-rank")
      a.stall_rank = std::atoi(v);
    else if (flag == "--stall-at")
      a.stall_at = std::atoi(v);
    else if (flag == "--timeout-ms")
      a.timeout_ms = std::atol(v);
    else if (flag == "--buckets")
      a.buckets = std::atoi(v) != 0;
  }
  return a;
}

int Fail(const std::string& what, const train::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

// What rank `rank` holds in op `op`, and the sum over `world` ranks.
float Input(int rank, int op, std::size_t i) { return static_cast<float>(rank + op + i % 3); }
float Sum(int world, int op, std::size_t i) {
  return static_cast<float>(world * (op + i % 3) + world * (world - 1) / 2);
}

// Every element of `data` is the sum for op `op`; 2 (with what is wrong on stderr) if not.
int CheckSums(const std::vector<float>& data, int rank, int world, int op) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] != Sum(world, op, i)) {
      std::fprintf(stderr, "rank %d op %d element %zu: %g, want %g\n", rank, op, i,
                   static_cast<double>(data[i]), static_cast<double>(Sum(world, op, i)));
      return 2;
    }
  }
  return 0;
}

// --buckets: each op is one backward's worth of gradients through GradientBuckets (sums).
int RunBuckets(const Args& args, train::Communicator& comm) {
  const int rank = comm.rank();
  constexpr std::size_t kGradients = 8;
  const std::size_t per = static_cast<std::size_t>(args.count) / kGradients;
  std::vector<float> data(per * kGradients);
  train::GradientBucketsOptions options;
  options.average = false;
  options.first_cap_bytes = per * sizeof(float);
  options.cap_bytes = 2 * per * sizeof(float);
  auto buckets = train::GradientBuckets::Create(&comm, options);
  if (!buckets.ok()) return Fail("GradientBuckets::Create", buckets.status());
  for (std::size_t g = 0; g < kGradients; ++g) {
    auto index =
        (*buckets)->Register("layer" + std::to_string(g),
                             train::TensorView{data.data() + g * per, train::DType::kFloat32, per});
    if (!index.ok()) return Fail("Register", index.status());
  }
  for (int op = 1; op <= args.ops; ++op) {
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = Input(rank, op, i);
    for (std::size_t g = kGradients; g-- > 0;) {
      if (rank == args.die_rank && op == args.die_at && g == kGradients / 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        raise(SIGKILL);
      }
      train::Status marked = (*buckets)->MarkReady(g);
      if (!marked.ok()) return Fail("rank " + std::to_string(rank), marked);
    }
    train::Status finished = (*buckets)->Finish();
    if (!finished.ok()) return Fail("rank " + std::to_string(rank), finished);
    if (const int wrong = CheckSums(data, rank, comm.world_size(), op); wrong != 0) return wrong;
  }
  std::printf("rank %d: %d bucketed steps of %zu floats right\n", rank, args.ops, data.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  train::CommunicatorOptions options;
  options.timeout = std::chrono::milliseconds(args.timeout_ms);
  options.host_id = args.host_id;
  std::unique_ptr<train::Worker> worker;
  std::unique_ptr<train::Store> store;
  train::Result<std::unique_ptr<train::Communicator>> comm = train::Status();
  if (args.store.empty()) {
    auto joined = train::Worker::Init();
    if (!joined.ok()) return Fail("Worker::Init", joined.status());
    worker = std::move(*joined);
    comm = train::Communicator::Create(*worker, options);
  } else {
    auto address = train::StoreAddress::Parse(args.store, "--store");
    auto token = train::ReadTokenFile(args.token_file);
    if (!address.ok() || !token.ok()) return Fail("--store/--token-file", address.status());
    auto connected = train::ConnectStore(*address, *token);
    if (!connected.ok()) return Fail("ConnectStore", connected.status());
    store = std::move(*connected);
    comm = train::Communicator::Create(store.get(), args.rank, args.world, options);
  }
  if (!comm.ok()) return Fail("Communicator::Create", comm.status());
  if (args.buckets) return RunBuckets(args, **comm);
  const int rank = (*comm)->rank();
  const int world = (*comm)->world_size();
  std::vector<float> data(static_cast<std::size_t>(args.count));
  for (int op = 1; op <= args.ops; ++op) {
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = Input(rank, op, i);
    if (rank == args.stall_rank && op == args.stall_at) {
      std::this_thread::sleep_for(std::chrono::hours(1));  // the test kills it
    }
    auto work = (*comm)->AllReduce(
        train::TensorView{data.data(), train::DType::kFloat32, data.size()}, train::ReduceOp::kSum);
    if (rank == args.die_rank && op == args.die_at) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      raise(SIGKILL);
    }
    train::Status status = work->Wait();
    if (!status.ok()) return Fail("rank " + std::to_string(rank), status);
    if (const int wrong = CheckSums(data, rank, world, op); wrong != 0) return wrong;
  }
  std::printf("rank %d: %d all-reduces of %ld floats right\n", rank, args.ops, args.count);
  return 0;
}
