// A LibTorch MLP on the Boston house prices, trained data-parallel with libtrain.
//
//   trainctl run --nproc 2 -- build/examples/libtorch/train --data data/boston.h5
//
// torch builds the model and runs forward and backward (autograd); libtrain does the rest: the
// ShardedSampler gives each rank its rows, the Communicator all-reduces (averages) the gradients
// of the torch tensors in place through train::TensorView (CPU memory), the fused AdamW updates
// the torch parameters where they lie, and train::Trainer checkpoints and resumes them. Rank 0
// ends with `final test_rmse=<value>`; every rank with `final params_sha256=<hex>`.
#include <openssl/evp.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "regression_data.h"
#include "train/communicator.h"
#include "train/log.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/sampler.h"
#include "train/trainer.h"
#include "train/worker.h"

namespace libtorch_example {
namespace {

struct Flags {
  std::string data = "data/boston.h5";
  std::int64_t steps = 1000;
  int global_batch = 32;
  int hidden = 32;
  double lr = 3e-3;
  std::uint64_t seed = 7;
  std::string checkpoint_dir;
};

// A view of a contiguous float32 CPU tensor's memory (no copy).
train::TensorView View(const torch::Tensor& t) {
  TORCH_CHECK(t.is_contiguous() && t.scalar_type() == torch::kFloat32 && t.is_cpu());
  return {t.data_ptr<float>(), train::DType::kFloat32, static_cast<std::uint64_t>(t.numel())};
}

torch::Tensor Rows(const std::vector<float>& values, std::int64_t columns) {
  const auto rows = static_cast<std::int64_t>(values.size()) / columns;
  return torch::from_blob(const_cast<float*>(values.data()), {rows, columns}).clone();
}

double Rmse(torch::nn::Sequential& model, const boston::Split& split,
            const boston::RegressionData& data) {
  torch::NoGradGuard no_grad;
  const torch::Tensor x = Rows(split.features, data.num_features);
  const torch::Tensor y = Rows(split.target, 1);
  return std::sqrt((model->forward(x) - y).pow(2).mean().item<double>()) * data.target_std;
}

std::string Sha256Hex(torch::nn::Sequential& model) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const torch::Tensor& p : model->parameters()) {
    EVP_DigestUpdate(ctx, p.data_ptr<float>(), static_cast<std::size_t>(p.numel()) * 4);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(ctx, digest, &size);
  EVP_MD_CTX_free(ctx);
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
                                       std::to_string(world));
  }
  TRAIN_ASSIGN_OR_RETURN(boston::RegressionData data,
                         boston::LoadRegressionData(flags.data, 0.2, flags.seed));
  torch::set_num_threads(1);       // ranks share the machine's cores
  torch::manual_seed(flags.seed);  // the same initial weights on every rank
  torch::nn::Sequential model(torch::nn::Linear(data.num_features, flags.hidden), torch::nn::ReLU(),
                              torch::nn::Linear(flags.hidden, 1));
  std::vector<torch::Tensor> params = model->parameters();
  train::ParamGroup group;
  group.lr = flags.lr;
  for (torch::Tensor& p : params) {
    p.mutable_grad() = torch::zeros_like(p);  // autograd accumulates into this memory
    group.params.push_back(View(p));
    group.grads.push_back(View(p.grad()));
  }
  train::OptimizerOptions optimizer_options;
  optimizer_options.num_threads = 1;
  TRAIN_ASSIGN_OR_RETURN(auto optimizer, train::FusedOptimizer::Create(optimizer_options, {group}));
  std::unique_ptr<train::Communicator> comm;
  if (world > 1) {
    TRAIN_ASSIGN_OR_RETURN(comm, train::Communicator::Create(*worker));
  }

  train::SamplerOptions sampler_options;
  sampler_options.num_samples = data.train.rows();
  sampler_options.seed = flags.seed;
  sampler_options.tail = train::TailPolicy::kDropLast;
  TRAIN_ASSIGN_OR_RETURN(train::ShardedSampler sampler,
                         train::ShardedSampler::Create(sampler_options, rank, world));
  train::TrainerOptions trainer_options;
  trainer_options.checkpoint_dir = flags.checkpoint_dir;
  TRAIN_ASSIGN_OR_RETURN(auto trainer,
                         train::Trainer::Create(*worker, comm.get(), trainer_options));
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::vector<std::uint64_t> shape(params[i].sizes().begin(), params[i].sizes().end());
    trainer->AddTensor({"model/param" + std::to_string(i), View(params[i]), shape});
  }
  trainer->SetOptimizer(optimizer.get());
  trainer->SetSampler(&sampler, sampler_options);
  TRAIN_ASSIGN_OR_RETURN(const std::int64_t done, trainer->Resume());
  if (done > 0) train::LogInfo("resumed after step " + std::to_string(done));

  const torch::Tensor features = Rows(data.train.features, data.num_features);
  const torch::Tensor target = Rows(data.train.target, 1);
  const auto per_rank = static_cast<std::size_t>(flags.global_batch / world);
  for (std::int64_t step = done + 1; step <= flags.steps; ++step) {
    std::vector<std::uint64_t> rows = sampler.NextBatch(per_rank);
    if (rows.empty()) {
      sampler.StartNextEpoch();
      rows = sampler.NextBatch(per_rank);
    }
    std::vector<std::int64_t> index(rows.begin(), rows.end());
    const torch::Tensor picked = torch::tensor(index, torch::kInt64);
    for (torch::Tensor& p : params) p.grad().zero_();
    const torch::Tensor loss = torch::mse_loss(model->forward(features.index_select(0, picked)),
                                               target.index_select(0, picked));
    loss.backward();
    if (comm != nullptr) {
      for (torch::Tensor& p : params) {
        TRAIN_RETURN_IF_ERROR(comm->AllReduce(View(p.grad()), train::ReduceOp::kAvg)->Wait());
      }
    }
    {
      torch::NoGradGuard no_grad;  // the fused optimizer writes the parameters in place
      TRAIN_RETURN_IF_ERROR(optimizer->Step().status());
    }
    TRAIN_RETURN_IF_ERROR(trainer->EndStep(step));
    train::StepReport report;
    report.step = step;
    report.epoch = static_cast<std::int64_t>(sampler.state().epoch);
    report.loss = loss.item<double>();
    report.samples = static_cast<std::int64_t>(rows.size());
    (void)train::ReportStep(report);
  }
  TRAIN_RETURN_IF_ERROR(trainer->Finish());
  if (rank == 0) std::printf("final test_rmse=%.4f\n", Rmse(model, data.test, data));
  std::printf("final params_sha256=%s\n", Sha256Hex(model).c_str());
  std::fflush(stdout);
  return train::Status::Ok();
}

}  // namespace
}  // namespace libtorch_example

int main(int argc, char** argv) {
  libtorch_example::Flags flags;
  CLI::App app(
      "A LibTorch MLP on the Boston house prices, data-parallel with libtrain.\n"
      "  trainctl run --nproc 2 -- build/examples/libtorch/train --data data/boston.h5\n"
      "(data/boston.h5: see examples/boston-housing)");
  app.add_option("--data", flags.data, "HDF5 file with features [N, C] and target [N]")
      ->capture_default_str();
  app.add_option("--steps", flags.steps, "optimizer steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--global-batch", flags.global_batch, "rows per step over all ranks")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--hidden", flags.hidden, "hidden units")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--lr", flags.lr, "AdamW learning rate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "the split, the initial weights and the data order")
      ->capture_default_str();
  app.add_option("--checkpoint-dir", flags.checkpoint_dir,
                 "checkpoints (default: the job's spec.checkpoint.dir, TRAIN_CHECKPOINT_DIR)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  const train::Status status = libtorch_example::Train(flags);
  if (!status.ok()) {
    train::LogError(status.ToString());
    return status.code() == train::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
