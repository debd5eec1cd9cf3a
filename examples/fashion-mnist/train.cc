// Trains an MLP on Fashion-MNIST and reports loss and accuracy per epoch.
//
//   build/examples/fashion-mnist/train --epochs 2
//
// It runs as a single worker: under a launcher it reads its place in the job from the
// environment (train::WorkerEnv) and prefixes its log lines with its rank, but it does no
// collective communication, so it refuses a world size above one rather than silently train
// unrelated models on each rank.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "fashion_mnist.h"
#include "flags.h"
#include "mlp.h"
#include "rng.h"
#include "train/env.h"
#include "train/log.h"
#include "train/status.h"

namespace fashion_mnist {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kEvalBatch = 256;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Format(const char* format, auto... args) {
  const int size = std::snprintf(nullptr, 0, format, args...);
  std::string out(static_cast<size_t>(std::max(size, 0)) + 1, '\0');
  std::snprintf(out.data(), out.size(), format, args...);
  out.pop_back();  // the terminating NUL
  return out;
}

// Copies samples indices[begin, begin + count) into a dense batch, pixels scaled to [0, 1].
void FillBatch(const Dataset& data, const std::vector<uint32_t>& indices, size_t begin, int count,
               float* inputs, uint8_t* labels) {
  const int pixels = data.pixels_per_image();
  for (int b = 0; b < count; ++b) {
    const uint32_t index = indices[begin + static_cast<size_t>(b)];
    const uint8_t* image = data.image(index);
    float* out = inputs + static_cast<size_t>(b) * pixels;
    for (int p = 0; p < pixels; ++p) out[p] = static_cast<float>(image[p]) * (1.0f / 255.0f);
    labels[b] = data.labels[index];
  }
}

double Accuracy(Mlp& model, const Dataset& data) {
  std::vector<uint32_t> order(static_cast<size_t>(data.size));
  std::iota(order.begin(), order.end(), 0u);
  std::vector<float> inputs(static_cast<size_t>(kEvalBatch) * Mlp::kInputs);
  std::vector<uint8_t> labels(kEvalBatch);
  std::vector<uint8_t> predicted(kEvalBatch);
  int64_t correct = 0;
  for (size_t begin = 0; begin < order.size(); begin += kEvalBatch) {
    const int count = static_cast<int>(std::min<size_t>(kEvalBatch, order.size() - begin));
    FillBatch(data, order, begin, count, inputs.data(), labels.data());
    model.Predict(inputs.data(), count, predicted.data());
    for (int b = 0; b < count; ++b) correct += predicted[b] == labels[b] ? 1 : 0;
  }
  return static_cast<double>(correct) / static_cast<double>(data.size);
}

train::Status Run(const TrainFlags& flags) {
  const auto load_start = Clock::now();
  TRAIN_ASSIGN_OR_RETURN(const Dataset train_set,
                         LoadDataset(flags.data_dir, Split::kTrain, flags.limit));
  TRAIN_ASSIGN_OR_RETURN(const Dataset test_set, LoadDataset(flags.data_dir, Split::kTest));
  for (const Dataset* data : {&train_set, &test_set}) {
    if (data->pixels_per_image() != Mlp::kInputs) {
      return train::DataLossError(Format("%s holds %dx%d images; this model takes 28x28",
                                         flags.data_dir.c_str(), data->rows, data->cols));
    }
  }
  train::LogInfo(Format("loaded %lld training and %lld test images from %s in %.1f s",
                        static_cast<long long>(train_set.size),
                        static_cast<long long>(test_set.size), flags.data_dir.c_str(),
                        SecondsSince(load_start)));

  Mlp model(flags.seed);
  const SgdOptions sgd{.learning_rate = flags.learning_rate, .momentum = flags.momentum};
  SplitMix64 order_rng(~flags.seed);  // a stream apart from the weights'
  std::vector<uint32_t> order(static_cast<size_t>(train_set.size));
  std::iota(order.begin(), order.end(), 0u);
  std::vector<float> inputs(static_cast<size_t>(flags.batch_size) * Mlp::kInputs);
  std::vector<uint8_t> labels(static_cast<size_t>(flags.batch_size));

  double test_accuracy = 0;
  const auto run_start = Clock::now();
  for (int epoch = 1; epoch <= flags.epochs; ++epoch) {
    Shuffle(order, order_rng);
    const auto epoch_start = Clock::now();
    double loss_sum = 0;
    int64_t correct = 0;
    for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(flags.batch_size)) {
      const int count = static_cast<int>(
          std::min<size_t>(static_cast<size_t>(flags.batch_size), order.size() - begin));
      FillBatch(train_set, order, begin, count, inputs.data(), labels.data());
      const StepStats step = model.TrainStep(inputs.data(), labels.data(), count, sgd);
      loss_sum += step.loss_sum;
      correct += step.correct;
    }
    const double train_seconds = SecondsSince(epoch_start);
    test_accuracy = Accuracy(model, test_set);
    const auto n = static_cast<double>(train_set.size);
    train::LogInfo(
        Format("epoch %d/%d: loss %.4f, train accuracy %.2f%%, test accuracy %.2f%%, "
               "%.0f samples/s (%.2f s)",
               epoch, flags.epochs, loss_sum / n, 100.0 * static_cast<double>(correct) / n,
               100.0 * test_accuracy, n / train_seconds, train_seconds));
  }
  train::LogInfo(Format("done: test accuracy %.2f%% after %d epoch%s in %.1f s",
                        100.0 * test_accuracy, flags.epochs, flags.epochs == 1 ? "" : "s",
                        SecondsSince(run_start)));
  return train::Status::Ok();
}

}  // namespace

}  // namespace fashion_mnist

int main(int argc, char** argv) {
  const fashion_mnist::ParsedFlags parsed = fashion_mnist::ParseFlags(argc, argv);
  if (parsed.exit_code) return *parsed.exit_code;

  const train::Result<train::WorkerEnv> env = train::WorkerEnv::FromEnvironment();
  if (!env.ok()) {
    train::LogError("cannot read the worker environment: " + env.status().ToString());
    return fashion_mnist::kExitUsage;
  }
  train::SetLogRank(env->rank);
  if (env->world_size > 1) {
    train::LogError("this example trains with one worker, but it was started as " +
                    env->Describe() + "; run it with a world size of 1");
    return fashion_mnist::kExitUsage;
  }
  train::LogInfo("worker " + env->Describe());

  const train::Status status = fashion_mnist::Run(parsed.flags);
  if (!status.ok()) {
    train::LogError(status.ToString());
    return fashion_mnist::kExitFailure;
  }
  return 0;
}
