// Trains a 784-256-128-10 MLP on Fashion-MNIST, data-parallel over the job's workers.
//
//   trainctl run examples/fashion-mnist/job.yaml
//
// Every rank holds the whole model. Each optimizer step, every rank takes its share of the
// global batch from train::ShardedSampler, computes its gradients, and train::GradientBuckets
// averages them over the train::Communicator while backward goes on; then every rank applies
// the same fused AdamW step, so the replicas stay identical. train::Trainer saves checkpoints in
// the background and resumes a restarted group where it stood.
#include <cblas.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "data.h"
#include "flags.h"
#include "mlp.h"
#include "params_digest.h"
#include "progress.h"
#include "train/communicator.h"
#include "train/env.h"
#include "train/grad_buckets.h"
#include "train/log.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/sampler.h"
#include "train/status.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace fashion_mnist {
namespace {

// Run directories kept under the checkpoint directory, this run's included.
constexpr int kRunsKept = 3;

// Evaluation batches: large products, a bounded workspace.
constexpr int kEvalBatch = 500;

struct Outcome {
  double test_accuracy = 0;
  std::string params_sha256;
  bool preempted = false;  // stopped on SIGTERM after saving its step: run again to resume
};

// Flags that cannot work with this world size: a usage error, before anything runs.
train::Status CheckFlags(const TrainFlags& flags, int world) {
  const int split = world * flags.micro_batches;
  if (flags.global_batch % split != 0) {
    return train::InvalidArgumentError(
        Format("--global-batch %d does not split into %d rank(s) x %d micro-batch(es); give a "
               "multiple of %d, e.g. %d",
               flags.global_batch, world, flags.micro_batches, split,
               (flags.global_batch / split + 1) * split));
  }
  return train::Status::Ok();
}

// Test accuracy over every rank's shard. Collective.
train::Result<double> Evaluate(Mlp& model, const std::vector<float>& params, const Examples& shard,
                               train::Communicator& comm) {
  std::int64_t counts[2] = {0, shard.count};  // correct, seen
  for (int begin = 0; begin < shard.count; begin += kEvalBatch) {
    const int count = std::min(kEvalBatch, shard.count - begin);
    counts[0] += model.CountCorrect(params.data(),
                                    shard.inputs.data() + static_cast<std::size_t>(begin) * kInputs,
                                    shard.labels.data() + begin, count);
  }
  train::TensorView view{counts, train::DType::kInt64, 2};
  TRAIN_RETURN_IF_ERROR(comm.AllReduce(view, train::ReduceOp::kSum)->Wait());
  return static_cast<double>(counts[0]) / static_cast<double>(counts[1]);
}

// The gradients of micro-batches 0..K-1 averaged as the all-reduce of K ranks would: summed in
// rank order, ((g0 + g1) + g2) + ..., then divided by K once, so that one process reproduces a
// K-rank step bit for bit.
void AverageInRankOrder(const std::vector<std::vector<float>>& micro, std::vector<float>& out) {
  const float divisor = static_cast<float>(micro.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    float sum = micro[0][i];
    for (std::size_t k = 1; k < micro.size(); ++k) sum += micro[k][i];
    out[i] = sum / divisor;
  }
}

// Every K-th row of `indices` from `k`: the samples rank k of K would take.
std::vector<std::uint64_t> Strided(const std::vector<std::uint64_t>& indices, int k, int K) {
  std::vector<std::uint64_t> out;
  for (std::size_t i = static_cast<std::size_t>(k); i < indices.size(); i += K) {
    out.push_back(indices[i]);
  }
  return out;
}

train::Result<Outcome> Run(const TrainFlags& flags, train::Worker& worker) {
  train::CommunicatorOptions comm_options;
  comm_options.deterministic = flags.deterministic;
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<train::Communicator> comm,
                         train::Communicator::Create(worker, comm_options));
  const int rank = comm->rank();
  const int world = comm->world_size();
  const int per_rank = flags.global_batch / world;
  const int K = flags.micro_batches;

  TRAIN_ASSIGN_OR_RETURN(TrainingSet train_set, TrainingSet::Open(flags.train_data, flags.limit));
  TRAIN_ASSIGN_OR_RETURN(const Examples test_shard, LoadTestShard(flags.test_data, rank, world));
  if (train_set.size() < static_cast<std::uint64_t>(flags.global_batch)) {
    return train::InvalidArgumentError(Format(
        "%s: %llu training samples are fewer than one global batch of %d; lower --global-batch",
        flags.train_data.c_str(), static_cast<unsigned long long>(train_set.size()),
        flags.global_batch));
  }
  // An epoch is the whole global batches it holds; the rest of the order is skipped, so that
  // every step has the same batch whatever the world size.
  const std::int64_t steps_per_epoch =
      static_cast<std::int64_t>(train_set.size()) / flags.global_batch;
  std::int64_t total_steps = flags.epochs * steps_per_epoch;
  if (flags.max_steps > 0) total_steps = std::min(total_steps, flags.max_steps);

  std::vector<float> params = Mlp::InitialParams(flags.seed);
  std::vector<float> grads(kNumParams, 0.0f);
  std::vector<std::vector<float>> micro_grads(K > 1 ? K : 0, std::vector<float>(kNumParams));
  auto view = [](std::vector<float>& v, std::size_t offset, std::size_t numel) {
    return train::TensorView{v.data() + offset, train::DType::kFloat32, numel};
  };

  // Buckets: fc3 and fc2 (the first gradients backward finishes) go out while fc1's backward
  // runs; fc1's weights, three quarters of the bytes, follow.
  train::GradientBucketsOptions bucket_options;
  bucket_options.first_cap_bytes = 64 << 10;
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<train::GradientBuckets> buckets,
                         train::GradientBuckets::Create(comm.get(), bucket_options));
  train::ParamGroup group;
  group.lr = flags.lr;
  group.weight_decay = flags.weight_decay;
  std::vector<train::CheckpointTensor> tensors;
  for (const LayerShape& shape : kLayerShapes) {
    const std::string name = shape.name;
    const std::size_t bias = static_cast<std::size_t>(shape.outputs);
    group.params.push_back(view(params, shape.weight_offset, shape.weight_size()));
    group.params.push_back(view(params, shape.bias_offset, bias));
    group.grads.push_back(view(grads, shape.weight_offset, shape.weight_size()));
    group.grads.push_back(view(grads, shape.bias_offset, bias));
    TRAIN_RETURN_IF_ERROR(buckets->Register(name + ".weight", group.grads.end()[-2]).status());
    TRAIN_RETURN_IF_ERROR(buckets->Register(name + ".bias", group.grads.back()).status());
    tensors.push_back(
        {name + "/weight",
         group.params.end()[-2],
         {static_cast<std::uint64_t>(shape.outputs), static_cast<std::uint64_t>(shape.inputs)}});
    tensors.push_back({name + "/bias", group.params.back(), {bias}});
  }
  train::OptimizerOptions optimizer_options;
  optimizer_options.kind = train::OptimizerKind::kAdamW;
  optimizer_options.num_threads = 1;  // one core per worker is all there is
  if (total_steps > flags.warmup_steps) {
    optimizer_options.schedule = {train::LrSchedule::Kind::kCosine, flags.warmup_steps, total_steps,
                                  /*min_factor=*/0.02};
  }
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<train::FusedOptimizer> optimizer,
                         train::FusedOptimizer::Create(optimizer_options, {group}));

  const train::SamplerOptions sampler_options{train_set.size(), flags.seed};
  TRAIN_ASSIGN_OR_RETURN(train::ShardedSampler sampler,
                         train::ShardedSampler::Create(sampler_options, rank, world));

  // Each run checkpoints into <dir>/run-<launch id>/ of its own (train::Trainer); a restart
  // resumes it, and of the older runs' directories the newest few are kept.
  train::TrainerOptions trainer_options;
  trainer_options.checkpoint_dir = flags.checkpoint_dir;
  trainer_options.keep_runs = kRunsKept;
  TRAIN_ASSIGN_OR_RETURN(std::unique_ptr<train::Trainer> trainer,
                         train::Trainer::Create(worker, comm.get(), trainer_options));
  for (train::CheckpointTensor& tensor : tensors) trainer->AddTensor(std::move(tensor));
  trainer->SetOptimizer(optimizer.get());
  trainer->SetSampler(&sampler, sampler_options);
  trainer->SetMetadata("model", "mlp 784-256-128-10");
  trainer->SetMetadata("global_batch", std::to_string(flags.global_batch));
  TRAIN_ASSIGN_OR_RETURN(const std::int64_t first_step, trainer->Resume());

  if (rank == 0) {
    train::LogInfo(
        Format("%llu training samples, %d test; %d rank(s) x %d per step (%d micro-batch(es)), "
               "%lld steps of %lld; checkpoints %s",
               static_cast<unsigned long long>(train_set.size()), test_shard.count * world, world,
               per_rank, K, static_cast<long long>(total_steps - first_step),
               static_cast<long long>(total_steps),
               trainer->checkpointing() ? trainer->options().checkpoint_dir.c_str() : "off"));
  }

  Mlp model;
  Examples batch;
  Progress progress(first_step, total_steps, steps_per_epoch, flags.global_batch);
  double test_accuracy = -1;
  for (std::int64_t step = first_step + 1; step <= total_steps; ++step) {
    if (sampler.state().cursor + static_cast<std::uint64_t>(flags.global_batch) >
        sampler.EpochEnd()) {
      sampler.StartNextEpoch();
    }
    const std::vector<std::uint64_t> indices =
        sampler.NextBatch(static_cast<std::size_t>(per_rank));
    double loss_sum = 0;
    if (K == 1) {
      TRAIN_RETURN_IF_ERROR(train_set.Gather(indices, batch));
      train::Status marked = train::Status::Ok();
      loss_sum = model
                     .ForwardBackward(params.data(), batch.inputs.data(), batch.labels.data(),
                                      per_rank, grads.data(),
                                      [&](int layer) {
                                        for (int g = 2 * layer; g < 2 * layer + 2; ++g) {
                                          if (marked.ok()) marked = buckets->MarkReady(g);
                                        }
                                      })
                     .loss_sum;
      TRAIN_RETURN_IF_ERROR(marked);
    } else {
      for (int k = 0; k < K; ++k) {
        TRAIN_RETURN_IF_ERROR(train_set.Gather(Strided(indices, k, K), batch));
        loss_sum += model
                        .ForwardBackward(params.data(), batch.inputs.data(), batch.labels.data(),
                                         batch.count, micro_grads[k].data())
                        .loss_sum;
      }
      AverageInRankOrder(micro_grads, grads);
      for (std::size_t g = 0; g < group.grads.size(); ++g) {
        TRAIN_RETURN_IF_ERROR(buckets->MarkReady(g));
      }
    }
    TRAIN_RETURN_IF_ERROR(buckets->Finish());
    TRAIN_ASSIGN_OR_RETURN(const train::StepResult update, optimizer->Step());
    TRAIN_RETURN_IF_ERROR(trainer->EndStep(step));
    // SIGTERM (an eviction, trainctl stopped): every rank saved this step; a restart resumes it.
    if (trainer->PreemptionRequested()) return Outcome{-1, "", true};

    const double loss = loss_sum / per_rank;
    progress.Add(step, loss);
    const bool epoch_end = step % steps_per_epoch == 0 || step == total_steps;
    if (epoch_end) {
      TRAIN_ASSIGN_OR_RETURN(test_accuracy, Evaluate(model, params, test_shard, *comm));
    }
    train::StepReport report;
    report.step = step;
    report.epoch = (step - 1) / steps_per_epoch + 1;
    report.loss = loss;
    report.samples = per_rank;
    report.values = {{"lr", flags.lr * update.lr_factor}};
    if (epoch_end) report.values.emplace_back("test_accuracy", test_accuracy);
    // Telemetry: a report the agent cannot take is dropped, and training goes on.
    const train::Status reported = train::ReportStep(report);
    if (!reported.ok() && step == first_step + 1) {
      train::LogWarning("step reports are off: " + reported.ToString());
    }
    if (rank == 0 && (step % flags.log_every == 0 || epoch_end)) {
      std::string line = progress.Line();
      if (epoch_end) line += Format(" test_accuracy %.4f", test_accuracy);
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  }
  if (test_accuracy < 0) {  // resumed at the end: nothing left to run
    TRAIN_ASSIGN_OR_RETURN(test_accuracy, Evaluate(model, params, test_shard, *comm));
  }
  TRAIN_RETURN_IF_ERROR(trainer->Finish());
  if (rank == 0) {
    train::LogInfo(Format("trained %lld steps in %.1f s (%.0f samples/s)",
                          static_cast<long long>(total_steps - first_step), progress.seconds(),
                          progress.samples_per_second()));
    if (!flags.params_out.empty()) {
      std::ofstream out(flags.params_out, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(params.data()),
                static_cast<std::streamsize>(params.size() * sizeof(float)));
      if (!out.flush()) {
        return train::UnavailableError("cannot write --params-out " + flags.params_out);
      }
    }
  }
  return Outcome{test_accuracy, Sha256Hex(params.data(), params.size() * sizeof(float))};
}

}  // namespace
}  // namespace fashion_mnist

int main(int argc, char** argv) {
  const fashion_mnist::ParsedFlags parsed = fashion_mnist::ParseFlags(argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;
  // One BLAS thread: a worker has a core of its own at most, and the products' rounding must
  // not depend on how OpenBLAS splits them.
  openblas_set_num_threads(1);

  const train::Result<train::WorkerEnv> env = train::WorkerEnv::FromEnvironment();
  if (!env.ok()) {
    train::LogError("cannot read the worker environment: " + env.status().ToString());
    return fashion_mnist::kExitUsage;
  }
  train::SetLogRank(env->rank);
  const train::Status usable = fashion_mnist::CheckFlags(parsed.flags, env->world_size);
  if (!usable.ok()) {
    train::LogError(usable.message());
    return fashion_mnist::kExitUsage;
  }
  train::Result<fashion_mnist::Outcome> outcome = train::InternalError("not run");
  {
    auto worker = train::Worker::Init(*env);
    if (!worker.ok()) {
      train::LogError("cannot join the job: " + worker.status().ToString());
      return fashion_mnist::kExitFailure;
    }
    outcome = fashion_mnist::Run(parsed.flags, **worker);
  }
  if (!outcome.ok()) {
    train::LogError(outcome.status().ToString());
    return fashion_mnist::kExitFailure;
  }
  if (outcome->preempted) return train::kExitPreempted;
  if (env->rank == 0) {
    // The last two lines of rank 0: what the run achieved, and which bits it ended with.
    std::printf("final test_accuracy=%.4f\nfinal params_sha256=%s\n", outcome->test_accuracy,
                outcome->params_sha256.c_str());
    std::fflush(stdout);
  }
  return 0;
}
