// validate, explain, defaults: the commands that read the TrainingJob spec.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "commands.h"
#include "job_file.h"
#include "schema_docs.h"
#include "yaml_encoder.h"

namespace trainctl::cli {
namespace {

std::string Plural(std::size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// "1 node x 4 workers", "2-4 nodes x 8 workers (8 nvidia.com/gpu each)".
std::string Shape(const trainctl::v1alpha1::TrainingJobSpec& spec) {
  const auto& nodes = spec.nodes();
  std::string out =
      nodes.min() == nodes.max()
          ? Plural(static_cast<std::size_t>(nodes.min()), "node")
          : std::to_string(nodes.min()) + "-" + std::to_string(nodes.max()) + " nodes";
  out += " x " + Plural(static_cast<std::size_t>(spec.procs_per_node()), "worker");
  if (spec.resources().gpus() > 0) {
    out += " (" + std::to_string(spec.resources().gpus()) + " " + spec.resources().gpu_resource() +
           " per node)";
  }
  return out;
}

}  // namespace

int RunValidate(const std::vector<std::string>& files, bool quiet) {
  int invalid = 0;
  for (const std::string& file : files) {
    spec::JobFile job = spec::LoadJobFile(file);
    if (job.ok()) {
      if (!quiet) {
        std::cout << file << ": valid: TrainingJob " << job.job.metadata().name() << ", "
                  << Shape(job.job.spec()) << "\n";
      }
      continue;
    }
    ++invalid;
    std::cerr << job.FormatErrors() << file << ": " << Plural(job.errors.size(), "error") << "\n";
  }
  if (files.size() > 1 && !quiet) {
    std::cout << files.size() - static_cast<std::size_t>(invalid) << " of " << files.size()
              << " files valid\n";
  }
  return invalid == 0 ? kExitOk : kExitFailure;
}

int RunExplain(const std::string& path) {
  auto text = spec::ExplainField(path);
  if (!text.ok()) {
    std::cerr << "trainctl explain: " << text.status().message() << "\n"
              << "Run `trainctl explain` to list the top-level fields.\n";
    return kExitFailure;
  }
  std::cout << *text;
  return kExitOk;
}

int RunDefaults(const std::string& file) {
  spec::JobFile job = spec::LoadJobFile(file);
  if (!job.ok()) {
    std::cerr << job.FormatErrors() << file << ": " << Plural(job.errors.size(), "error")
              << "; fix them to see the defaults\n";
    return kExitFailure;
  }
  std::cout << spec::EncodeYaml(job.job);
  return kExitOk;
}

CommandRunner AddSpecCommands(CLI::App* app) {
  struct Flags {
    std::vector<std::string> files;
    bool quiet = false;
    std::string field_path;
    std::string defaults_file;
  };
  auto flags = std::make_shared<Flags>();
  auto* validate =
      app->add_subcommand("validate",
                          "Check TrainingJob files: unknown fields, types, and semantic rules, all "
                          "errors at once (exit 0 valid, 1 invalid, 2 usage)");
  validate->add_option("FILE", flags->files, "TrainingJob files (YAML or JSON)")->required();
  validate->add_flag("-q,--quiet", flags->quiet, "Print errors only");

  auto* explain = app->add_subcommand(
      "explain",
      "Document a field of the TrainingJob spec: its type, meaning, default, and "
      "the fields below it");
  explain->add_option("FIELD", flags->field_path,
                      "Dotted field path, e.g. spec, spec.rendezvous.heartbeat (default: the "
                      "whole TrainingJob)");

  auto* defaults =
      app->add_subcommand("defaults", "Print a TrainingJob with every default filled in, as YAML");
  defaults->add_option("FILE", flags->defaults_file, "TrainingJob file (YAML or JSON)")->required();

  return [=]() -> std::optional<int> {
    if (validate->parsed()) return RunValidate(flags->files, flags->quiet);
    if (explain->parsed()) return RunExplain(flags->field_path);
    if (defaults->parsed()) return RunDefaults(flags->defaults_file);
    return std::nullopt;
  };
}

}  // namespace trainctl::cli
