#include "flags.h"

#include <CLI/CLI.hpp>

namespace fashion_mnist {

ParsedFlags ParseFlags(int argc, char** argv) {
  ParsedFlags parsed;
  TrainFlags& f = parsed.flags;
  CLI::App app(
      "Trains a 784-128-10 MLP on Fashion-MNIST (IDX files, gzip'd or not) with minibatch SGD "
      "and momentum, and reports the test accuracy after every epoch. Runs as one worker.",
      "train");
  app.add_option("--data-dir", f.data_dir, "directory holding the Fashion-MNIST IDX files")
      ->capture_default_str();
  app.add_option("--epochs", f.epochs, "passes over the training set")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--batch-size", f.batch_size, "samples per SGD step")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--lr", f.learning_rate, "learning rate")
      ->check(CLI::Range(1e-6f, 10.0f))
      ->capture_default_str();
  app.add_option("--momentum", f.momentum, "SGD momentum")
      ->check(CLI::Range(0.0f, 0.999f))
      ->capture_default_str();
  app.add_option("--limit", f.limit, "train on the first N samples only; 0 = all")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--seed", f.seed, "seed of the weight initialisation and the sample order")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help, or the error to stderr
    parsed.exit_code = code == 0 ? 0 : kExitUsage;
  }
  return parsed;
}

}  // namespace fashion_mnist
