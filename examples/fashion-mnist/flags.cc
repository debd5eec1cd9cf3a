#include "flags.h"

#include <CLI/CLI.hpp>

namespace fashion_mnist {

ParsedFlags ParseFlags(int argc, char** argv) {
  ParsedFlags parsed;
  TrainFlags& f = parsed.flags;
  CLI::App app(
      "Trains a 784-256-128-10 MLP on Fashion-MNIST, data-parallel over the job's workers: "
      "HDF5 data in a sharded order, gradients averaged over the Communicator in buckets, "
      "fused AdamW, checkpoints through train::Trainer. Rank 0 prints progress lines and ends "
      "with `final test_accuracy=...` and `final params_sha256=...`.",
      "train");
  app.footer(R"(
Examples:
  trainctl data import idx --images /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz \
      --labels /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz \
      -o runs/data/fashion-mnist/train.h5          # and t10k-* to test.h5
  trainctl run examples/fashion-mnist/job.yaml    # 4 workers, checkpoints, restarts
  trainctl run --nproc 4 -- build/examples/fashion-mnist/train --epochs 1
  train --global-batch 256 --micro-batches 4      # one process, the 4 ranks' bits

Checkpoints go to <checkpoint dir>/run-<launch id>/ (a new one per run; a restart resumes it;
trainctl run --resume continues an earlier run). Exit codes: 0 done, 1 failed (data, peers,
disk), 2 usage.)");
  app.add_option("--train-data", f.train_data, "HDF5 training set (images, labels)")
      ->capture_default_str();
  app.add_option("--test-data", f.test_data, "HDF5 test set (images, labels)")
      ->capture_default_str();
  app.add_option("--epochs", f.epochs, "passes over the training set")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--steps", f.max_steps, "stop after this many optimizer steps (0: all epochs)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--global-batch", f.global_batch,
                 "samples per optimizer step over all ranks; a multiple of world size x "
                 "--micro-batches")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  app.add_option("--micro-batches", f.micro_batches,
                 "cut each rank's batch into this many (every K-th sample, as K ranks would "
                 "take them), and average their gradients in the all-reduce's order")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--lr", f.lr, "AdamW peak learning rate (linear warmup, cosine decay)")
      ->check(CLI::Range(1e-7, 1.0))
      ->capture_default_str();
  app.add_option("--weight-decay", f.weight_decay, "AdamW decoupled weight decay")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--warmup-steps", f.warmup_steps, "steps of linear learning-rate warmup")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--seed", f.seed, "seed of the weights and the sample order")
      ->capture_default_str();
  app.add_option("--limit", f.limit, "train on the first N samples only; 0 = all")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--checkpoint-dir", f.checkpoint_dir,
                 "checkpoint root (default: the job's spec.checkpoint.dir; none: no "
                 "checkpoints)");
  app.add_option("--deterministic", f.deterministic, "bitwise reproducible all-reduce (true/false)")
      ->capture_default_str();
  app.add_option("--log-every", f.log_every, "optimizer steps between progress lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--params-out", f.params_out,
                 "rank 0 writes the final parameters here (float32, little-endian)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help, or the error to stderr
    parsed.exit_code = code == 0 ? 0 : kExitUsage;
  }
  return parsed;
}

}  // namespace fashion_mnist
