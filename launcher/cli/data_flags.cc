// trainctl data plan|import|inspect: their flags (the code behind them is in data_commands.cc
// and plan_command.cc, which tests call without CLI11).
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.h"
#include "data_commands.h"

namespace trainctl::cli {
namespace {

CLI::App* AddPlan(CLI::App* data, PlanFlags* flags) {
  auto* plan = data->add_subcommand(
      "plan",
      "Print, one per line, the sample indices rank R consumes from global cursor C to "
      "the end of epoch E (the order every trainctl job uses)");
  plan->add_option("--samples", flags->samples, "Samples in the dataset (N)")->required();
  plan->add_option("--world", flags->world, "Workers (W)")->required();
  plan->add_option("--rank", flags->rank, "The rank to plan for (R)")->required();
  plan->add_option("--epoch", flags->epoch, "Epoch (E)");
  plan->add_option("--seed", flags->seed, "Shuffle seed (S)");
  plan->add_option("--cursor", flags->cursor,
                   "Positions of the epoch all ranks consumed already (C)");
  plan->add_flag("--drop-last", flags->drop_last,
                 "Equal counts per rank; skip the tail that does not divide");
  plan->add_flag("--pad", flags->pad, "Equal counts per rank; repeat the epoch's start");
  plan->add_flag("--no-shuffle", flags->no_shuffle, "Keep the dataset's order");
  return plan;
}

CLI::App* AddImportIdx(CLI::App* data_import, ImportIdxFlags* flags) {
  auto* import_idx = data_import->add_subcommand(
      "idx",
      "IDX files (MNIST's format, gzip'd or not): images keep their type and shape, labels "
      "become int64 [N]");
  import_idx->add_option("--images", flags->images, "Images (IDX file)")->required();
  import_idx->add_option("--labels", flags->labels, "Labels (1-D IDX file), one per image")
      ->required();
  import_idx->add_option("-o,--output", flags->output, "HDF5 file to write")->required();
  import_idx
      ->add_option(
          "--chunk-rows", flags->chunk_rows,
          "Rows per chunk (default: a power of two, the most that fit in 32 KiB, at most 1024)")
      ->check(CLI::PositiveNumber);
  import_idx->add_option("--compression", flags->compression, "Deflate level: 0 (none) to 9")
      ->check(CLI::Range(0, 9))
      ->capture_default_str();
  import_idx->add_option("--images-field", flags->images_field, "Name of the images dataset")
      ->capture_default_str();
  import_idx->add_option("--labels-field", flags->labels_field, "Name of the labels dataset")
      ->capture_default_str();
  import_idx->add_flag("--force", flags->force, "Replace the output file if it exists");
  return import_idx;
}

CLI::App* AddImportCsv(CLI::App* data_import, ImportCsvFlags* flags) {
  auto* import_csv = data_import->add_subcommand(
      "csv",
      "Numeric CSV with a header row: float64 `features` [N, C] (and `target` [N] with "
      "--target); a first line \"ROWS,COLUMNS\" (scikit-learn's) is detected and skipped");
  import_csv->add_option("FILE", flags->input, "CSV file (gzip'd or not)")->required();
  import_csv->add_option("-o,--output", flags->output, "HDF5 file to write")->required();
  import_csv
      ->add_option("--skip-rows", flags->skip_rows,
                   "Lines before the header (default: detect scikit-learn's first line)")
      ->check(CLI::NonNegativeNumber);
  import_csv->add_option("--target", flags->target,
                         "Column to store as `target` instead of in `features`");
  import_csv->add_option("--chunk-rows", flags->chunk_rows, "Rows per chunk")
      ->check(CLI::PositiveNumber);
  import_csv->add_option("--compression", flags->compression, "Deflate level: 0 (none) to 9")
      ->check(CLI::Range(0, 9))
      ->capture_default_str();
  import_csv->add_flag("--force", flags->force, "Replace the output file if it exists");
  return import_csv;
}

}  // namespace

CommandRunner AddDataCommands(CLI::App* app) {
  struct Flags {
    PlanFlags plan;
    ImportIdxFlags idx;
    ImportCsvFlags csv;
    InspectFlags inspect;
  };
  auto flags = std::make_shared<Flags>();
  auto* data =
      app->add_subcommand("data", "Datasets: import to HDF5, inspect, plan a job's sharding");
  data->require_subcommand(1);
  auto* plan = AddPlan(data, &flags->plan);
  auto* data_import = data->add_subcommand(
      "import",
      "Convert files to HDF5: one dataset per field, rows along the first dimension, chunked "
      "and compressed; the output appears whole or not at all");
  data_import->require_subcommand(1);
  auto* import_idx = AddImportIdx(data_import, &flags->idx);
  auto* import_csv = AddImportCsv(data_import, &flags->csv);
  auto* inspect = data->add_subcommand(
      "inspect",
      "Describe an HDF5 file: each dataset's type, shape, chunks, compression, size and "
      "attributes, and the number of rows they share");
  inspect->add_option("FILE", flags->inspect.file, "HDF5 file")->required();
  inspect->add_flag("--json", flags->inspect.json, "Print JSON for programs");

  return [=]() -> std::optional<int> {
    if (plan->parsed()) return RunDataPlan(flags->plan);
    if (import_idx->parsed()) return RunDataImportIdx(flags->idx);
    if (import_csv->parsed()) return RunDataImportCsv(flags->csv);
    if (inspect->parsed()) return RunDataInspect(flags->inspect);
    return std::nullopt;
  };
}

}  // namespace trainctl::cli
