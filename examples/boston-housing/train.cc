// House-price regression on scikit-learn's Boston data, trained data-parallel with libtrain.
//
//   trainctl data import csv --target MEDV --skip-rows 1 -o data/boston.h5
//     /usr/lib/python3/dist-packages/sklearn/datasets/data/boston_house_prices.csv
//   trainctl run examples/boston-housing/job.yaml     # 2 workers
//
// Each rank takes its share of every step's global batch from the ShardedSampler, computes the
// gradient of its rows, and the GradientBuckets all-reduce (average) the gradients over the
// Communicator; the fused AdamW then takes the same step on every rank. train::Trainer saves
// checkpoints (the job's spec.checkpoint) and resumes from the newest one after a restart.
// Rank 0 ends with `final test_rmse=<value>` (in the target's units, $1000s for MEDV) on the
// held-out rows; every rank ends with `final params_sha256=<hex>` of its parameters.
#include <openssl/evp.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "model.h"
#include "regression_data.h"
#include "train/communicator.h"
#include "train/grad_buckets.h"
#include "train/log.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/sampler.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace boston {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Flags {
  std::string data = "data/boston.h5";
  std::int64_t steps = 1500;
  int global_batch = 32;
  int hidden = 32;
  double lr = 3e-3;
  double weight_decay = 1e-4;
  double test_fraction = 0.2;
  std::uint64_t seed = 7;
  std::string checkpoint_dir;
  std::int64_t checkpoint_every = 0;
};

double Rmse(const Model& model, const Split& split, const RegressionData& data) {
  double sum = 0;
  for (std::size_t r = 0; r < split.rows(); ++r) {
    const float* x = split.features.data() + r * static_cast<std::size_t>(data.num_features);
    const double error = (model.Predict(x) - split.target[r]) * data.target_std;
    sum += error * error;
  }
  return std::sqrt(sum / static_cast<double>(split.rows()));
}

std::string Sha256Hex(const std::vector<float>& values) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(values.data(), values.size() * sizeof(float), digest, &size, EVP_sha256(), nullptr);
  std::string hex;
  char byte[3];
  for (unsigned int i = 0; i < size; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

train::Status Train(const Flags& flags) {
  TRAIN_ASSIGN_OR_RETURN(auto worker, train::Worker::Init());
  const int rank = worker->rank(), world = worker->world_size();
  train::SetLogRank(rank);
  if (flags.global_batch % world != 0) {
    return train::InvalidArgumentError("--global-batch=" + std::to_string(flags.global_batch) +
                                       " is not a multiple of the world size " +
                                       std::to_string(world) + ": pick a multiple");
  }
  TRAIN_ASSIGN_OR_RETURN(RegressionData data,
                         LoadRegressionData(flags.data, flags.test_fraction, flags.seed));
  train::LogInfo("worker " + worker->env().Describe() + "; " + std::to_string(data.train.rows()) +
                 " train and " + std::to_string(data.test.rows()) + " test rows of " +
                 std::to_string(data.num_features) + " features");

  Model model(data.num_features, flags.hidden, flags.seed);
  std::unique_ptr<train::Communicator> comm;
  std::unique_ptr<train::GradientBuckets> buckets;
  if (world > 1) {
    TRAIN_ASSIGN_OR_RETURN(comm, train::Communicator::Create(*worker));
    TRAIN_ASSIGN_OR_RETURN(buckets, train::GradientBuckets::Create(comm.get()));
    for (const ParamSlice& s : model.slices()) {
      TRAIN_RETURN_IF_ERROR(buckets->Register(s.name, model.GradView(s)).status());
    }
  }
  train::ParamGroup group;
  group.lr = flags.lr;
  group.weight_decay = flags.weight_decay;
  for (const ParamSlice& s : model.slices()) {
    group.params.push_back(model.ParamView(s));
    group.grads.push_back(model.GradView(s));
  }
  train::OptimizerOptions optimizer_options;
  optimizer_options.kind = train::OptimizerKind::kAdamW;
  optimizer_options.num_threads = 1;
  TRAIN_ASSIGN_OR_RETURN(auto optimizer, train::FusedOptimizer::Create(optimizer_options, {group}));

  train::SamplerOptions sampler_options;
  sampler_options.num_samples = data.train.rows();
  sampler_options.seed = flags.seed;
  sampler_options.tail = train::TailPolicy::kDropLast;  // equal shares: the average is exact
  TRAIN_ASSIGN_OR_RETURN(train::ShardedSampler sampler,
                         train::ShardedSampler::Create(sampler_options, rank, world));

  train::TrainerOptions trainer_options;
  trainer_options.checkpoint_dir = flags.checkpoint_dir;
  trainer_options.every_steps = flags.checkpoint_every;
  TRAIN_ASSIGN_OR_RETURN(auto trainer,
                         train::Trainer::Create(*worker, comm.get(), trainer_options));
  for (const ParamSlice& s : model.slices()) {
    trainer->AddTensor({"model/" + s.name, model.ParamView(s), s.shape});
  }
  trainer->SetOptimizer(optimizer.get());
  trainer->SetSampler(&sampler, sampler_options);
  TRAIN_ASSIGN_OR_RETURN(const std::int64_t done, trainer->Resume());
  if (done > 0) train::LogInfo("resumed after step " + std::to_string(done));

  const auto per_rank = static_cast<std::size_t>(flags.global_batch / world);
  const auto columns = static_cast<std::size_t>(data.num_features);
  std::vector<float> x(per_rank * columns), y(per_rank);
  for (std::int64_t step = done + 1; step <= flags.steps; ++step) {
    std::vector<std::uint64_t> rows = sampler.NextBatch(per_rank);
    if (rows.empty()) {  // every rank reaches the epoch's end at the same step
      sampler.StartNextEpoch();
      rows = sampler.NextBatch(per_rank);
    }
    for (std::size_t b = 0; b < rows.size(); ++b) {
      const float* from = data.train.features.data() + rows[b] * columns;
      std::copy(from, from + columns, x.begin() + static_cast<std::ptrdiff_t>(b * columns));
      y[b] = data.train.target[rows[b]];
    }
    std::fill(model.grads().begin(), model.grads().end(), 0.0f);
    const double loss = model.Backward(x.data(), y.data(), rows.size());
    if (buckets != nullptr) {
      for (auto s = model.slices().rbegin(); s != model.slices().rend(); ++s) {
        TRAIN_RETURN_IF_ERROR(buckets->MarkReady(s->name));  // backward order
      }
      TRAIN_RETURN_IF_ERROR(buckets->Finish());
    }
    TRAIN_RETURN_IF_ERROR(optimizer->Step().status());
    TRAIN_RETURN_IF_ERROR(trainer->EndStep(step));
    train::StepReport report;
    report.step = step;
    report.epoch = static_cast<std::int64_t>(sampler.state().epoch);
    report.loss = loss;
    report.samples = static_cast<std::int64_t>(rows.size());
    (void)train::ReportStep(report);
    if (rank == 0 && (step % 250 == 0 || step == flags.steps)) {
      train::LogInfo("step " + std::to_string(step) + "/" + std::to_string(flags.steps) +
                     " epoch " + std::to_string(sampler.state().epoch) + ": train rmse " +
                     std::to_string(Rmse(model, data.train, data)) + ", test rmse " +
                     std::to_string(Rmse(model, data.test, data)));
    }
  }
  TRAIN_RETURN_IF_ERROR(trainer->Finish());
  if (rank == 0) {
    std::printf("final train_rmse=%.4f\nfinal test_rmse=%.4f\n", Rmse(model, data.train, data),
                Rmse(model, data.test, data));
  }
  std::printf("final params_sha256=%s\n", Sha256Hex(model.params()).c_str());
  std::fflush(stdout);
  return train::Status::Ok();
}

}  // namespace
}  // namespace boston

int main(int argc, char** argv) {
  boston::Flags flags;
  CLI::App app(
      "Boston house-price regression, data-parallel with libtrain.\n"
      "  trainctl data import csv "
      "/usr/lib/python3/dist-packages/sklearn/datasets/data/boston_house_prices.csv \\\n"
      "    --target MEDV --skip-rows 1 -o data/boston.h5\n"
      "  trainctl run --nproc 2 -- build/examples/boston-housing/train --data data/boston.h5\n"
      "  train --hidden 0        # a linear model");
  app.add_option("--data", flags.data, "HDF5 file with features [N, C] and target [N]")
      ->capture_default_str();
  app.add_option("--steps", flags.steps, "optimizer steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--global-batch", flags.global_batch, "rows per step over all ranks")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--hidden", flags.hidden, "hidden units; 0: a linear model")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--lr", flags.lr, "AdamW learning rate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--weight-decay", flags.weight_decay, "AdamW decoupled weight decay")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--test-fraction", flags.test_fraction, "rows held out for the test RMSE")
      ->check(CLI::Range(0.01, 0.9))
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "the split, the initial weights and the data order")
      ->capture_default_str();
  app.add_option("--checkpoint-dir", flags.checkpoint_dir,
                 "checkpoints (default: the job's spec.checkpoint.dir, TRAIN_CHECKPOINT_DIR)");
  app.add_option("--checkpoint-every", flags.checkpoint_every,
                 "steps between checkpoints (default: the job's spec.checkpoint.everySteps)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : boston::kExitUsage;
  }
  const train::Status status = boston::Train(flags);
  if (!status.ok()) {
    train::LogError(status.ToString());
    return status.code() == train::StatusCode::kInvalidArgument ? boston::kExitUsage
                                                                : boston::kExitFailure;
  }
  return 0;
}
