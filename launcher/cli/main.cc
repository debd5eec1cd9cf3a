// trainctl: the command line. Parses flags with CLI11 and dispatches to commands.h.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"

namespace {

constexpr char kDescription[] =
    "trainctl runs distributed training jobs: it expands a TrainingJob spec (YAML) into\n"
    "indexed workers that meet at a rendezvous, on this machine, on several hosts, or on\n"
    "Kubernetes.";

constexpr char kFooter[] = R"(
Examples:
  trainctl validate examples/jobs/*.yaml     check specs; every error with file:line:col
  trainctl explain spec.rendezvous           document a field (like kubectl explain)
  trainctl defaults job.yaml                 the spec with every default filled in
  trainctl version                           versions, and the GPUs this build can use

Exit codes: 0 success, 1 failure (an invalid spec, a failed check), 2 usage error.
Run `trainctl COMMAND --help` for a command's flags.)";

}  // namespace

int main(int argc, char** argv) {
  using namespace trainctl::cli;
  CLI::App app(kDescription, "trainctl");
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print the help of every command");

  std::vector<std::string> files;
  bool quiet = false;
  auto* validate =
      app.add_subcommand("validate",
                         "Check TrainingJob files: unknown fields, types, and semantic rules, all "
                         "errors at once (exit 0 valid, 1 invalid, 2 usage)");
  validate->add_option("FILE", files, "TrainingJob files (YAML or JSON)")->required();
  validate->add_flag("-q,--quiet", quiet, "Print errors only");

  std::string field_path;
  auto* explain = app.add_subcommand(
      "explain",
      "Document a field of the TrainingJob spec: its type, meaning, default, and "
      "the fields below it");
  explain->add_option("FIELD", field_path,
                      "Dotted field path, e.g. spec, spec.rendezvous.heartbeat (default: the "
                      "whole TrainingJob)");

  std::string defaults_file;
  auto* defaults =
      app.add_subcommand("defaults", "Print a TrainingJob with every default filled in, as YAML");
  defaults->add_option("FILE", defaults_file, "TrainingJob file (YAML or JSON)")->required();

  auto* version = app.add_subcommand("version", "Print versions and the GPUs this build can use");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message (and help for a missing command)
    return kExitUsage;
  }

  if (validate->parsed()) return RunValidate(files, quiet);
  if (explain->parsed()) return RunExplain(field_path);
  if (defaults->parsed()) return RunDefaults(defaults_file);
  if (version->parsed()) return RunVersion();
  return kExitUsage;
}
