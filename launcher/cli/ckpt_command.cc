// trainctl ckpt: tables and JSON over the offline checkpoint API (train/checkpoint.h).
#include "ckpt_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "shape_text.h"
#include "train/checkpoint.h"
#include "train/dtype.h"

namespace trainctl::cli {
namespace {

using data::ShapeText;

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kStepPrefix[] = "step-";

int UsageError(const std::string& command, const std::string& message) {
  std::cerr << "trainctl ckpt " << command << ": " << message << "\n";
  return kExitUsage;
}

int Failure(const std::string& command, const train::Status& status) {
  std::cerr << "trainctl ckpt " << command << ": " << status.message() << "\n";
  return kExitFailure;
}

// The step of a directory named step-<N>, or nullopt.
std::optional<std::int64_t> StepOfName(const std::string& name) {
  const std::string digits = name.substr(0, sizeof(kStepPrefix) - 1) == kStepPrefix
                                 ? name.substr(sizeof(kStepPrefix) - 1)
                                 : std::string();
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

std::string TrimmedFileName(const fs::path& path) {
  std::string name = path.filename().string();
  if (name.empty()) name = path.parent_path().filename().string();  // "DIR/step-3/"
  return name;
}

// A single checkpoint: DIR/step-N, or any directory holding a manifest.
bool IsStepDir(const fs::path& path) {
  return StepOfName(TrimmedFileName(path)).has_value() || fs::exists(path / "manifest.json");
}

std::string FormatBytes(std::uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return text;
}

std::string Padded(std::string text, std::size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

// The checkpoints under `dir`, newest first: every step-<N> directory, committed or not, so
// that verify reports a damaged one that the listing would leave out.
std::vector<fs::path> StepDirs(const fs::path& dir) {
  std::vector<std::pair<std::int64_t, fs::path>> found;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (!entry.is_directory()) continue;
    if (auto step = StepOfName(entry.path().filename().string())) {
      found.emplace_back(*step, entry.path());
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a > b; });
  std::vector<fs::path> paths;
  for (auto& [step, path] : found) paths.push_back(path);
  return paths;
}

}  // namespace

int RunCkptList(const CkptListFlags& flags) {
  if (!fs::is_directory(flags.dir)) {
    return UsageError(
        "ls", "no checkpoint directory at " + flags.dir + " (give the job's spec.checkpoint.dir)");
  }
  train::Result<std::vector<train::CheckpointInfo>> list = train::ListCheckpoints(flags.dir);
  if (!list.ok()) return Failure("ls", list.status());
  train::Result<std::vector<train::QuarantinedCheckpoint>> quarantined =
      train::ListQuarantinedCheckpoints(flags.dir);
  if (!quarantined.ok()) return Failure("ls", quarantined.status());
  // The step a restart tries first: the newest whose manifest and files look whole (only
  // `ckpt verify` reads every byte). <dir>/latest is not trusted for this.
  std::optional<std::int64_t> latest;
  for (const auto& info : *list) {
    if (info.verified.ok()) {
      latest = info.step;
      break;
    }
  }
  if (flags.json) {
    json out = json::array();
    for (const auto& info : *list) {
      json entry = {{"step", info.step},
                    {"path", info.path},
                    {"world_size", info.world_size},
                    {"bytes", info.bytes},
                    {"created", info.created},
                    {"status", info.verified.ok() ? "ok" : "damaged"},
                    {"latest", latest == info.step}};
      if (!info.verified.ok()) entry["error"] = info.verified.message();
      out.push_back(std::move(entry));
    }
    for (const auto& q : *quarantined) {
      out.push_back({{"step", q.step},
                     {"path", q.path},
                     {"status", "quarantined"},
                     {"reason", q.reason},
                     {"latest", false}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (list->empty()) {
    std::cout << "no committed checkpoints in " << flags.dir << "\n";
  } else {
    std::cout << Padded("STEP", 12) << Padded("WORLD", 7) << Padded("SIZE", 12)
              << Padded("CREATED (UTC)", 26) << Padded("LATEST", 8) << "STATUS\n";
    for (const auto& info : *list) {
      std::cout << Padded(std::to_string(info.step), 12)
                << Padded(std::to_string(info.world_size), 7) << Padded(FormatBytes(info.bytes), 12)
                << Padded(info.created, 26) << Padded(latest == info.step ? "*" : "", 8)
                << (info.verified.ok() ? "ok" : "DAMAGED: " + info.verified.message()) << "\n";
    }
  }
  if (!quarantined->empty()) {
    std::cout << "\nquarantined (failed verification when loading; never loaded or deleted: "
                 "inspect, then remove):\n";
    for (const auto& q : *quarantined) {
      const std::string first_line = q.reason.substr(0, q.reason.find('\n'));
      std::cout << "  " << Padded(fs::path(q.path).filename().string(), 40)
                << (first_line.empty() ? "(no reason recorded)" : first_line) << "\n";
    }
  }
  return kExitOk;
}

int RunCkptVerify(const CkptVerifyFlags& flags) {
  const fs::path path(flags.path);
  if (!fs::is_directory(path)) {
    return UsageError("verify", "no such directory: " + flags.path +
                                    " (give a checkpoint directory or one of its step-N)");
  }
  const std::vector<fs::path> steps =
      IsStepDir(path) ? std::vector<fs::path>{path} : StepDirs(path);
  if (steps.empty()) {
    std::cout << "no checkpoints in " << flags.path << "\n";
    return kExitOk;
  }
  int failed = 0;
  for (const fs::path& step : steps) {
    const train::Status status = train::VerifyCheckpoint(step.string());
    if (status.ok()) {
      if (!flags.quiet) std::cout << Padded(TrimmedFileName(step), 16) << "OK\n";
    } else {
      ++failed;
      std::cout << Padded(TrimmedFileName(step), 16) << "FAILED: " << status.message() << "\n";
    }
  }
  if (steps.size() > 1) {
    std::cout << steps.size() - static_cast<std::size_t>(failed) << " of " << steps.size()
              << " checkpoints verify\n";
  }
  if (!IsStepDir(path)) {
    train::Result<std::vector<train::QuarantinedCheckpoint>> quarantined =
        train::ListQuarantinedCheckpoints(path.string());
    if (quarantined.ok()) {
      for (const auto& q : *quarantined) {
        std::cout << Padded(fs::path(q.path).filename().string(), 16)
                  << "QUARANTINED (not loaded; verify it by its path)\n";
      }
    }
  }
  return failed == 0 ? kExitOk : kExitFailure;
}

int RunCkptInspect(const CkptInspectFlags& flags) {
  const fs::path path(flags.step_dir);
  if (!fs::is_directory(path)) {
    return UsageError("inspect", "no such directory: " + flags.step_dir);
  }
  if (!IsStepDir(path)) {
    return UsageError("inspect", flags.step_dir +
                                     " is not one checkpoint; give DIR/step-N (trainctl ckpt "
                                     "ls DIR lists them)");
  }
  train::Result<train::CheckpointContents> contents = train::InspectCheckpoint(flags.step_dir);
  if (!contents.ok()) return Failure("inspect", contents.status());
  const train::CheckpointContents& c = *contents;
  if (flags.json) {
    json tensors = json::array();
    for (const auto& t : c.tensors) {
      tensors.push_back({{"name", t.name},
                         {"dtype", std::string(train::DTypeName(t.dtype))},
                         {"shape", t.shape},
                         {"replicated", t.replicated},
                         {"files", t.files}});
    }
    json out = {{"step", c.info.step},
                {"path", c.info.path},
                {"world_size", c.info.world_size},
                {"bytes", c.info.bytes},
                {"created", c.info.created},
                {"job_id", c.job_id},
                {"library_version", c.library_version},
                {"tensors", tensors},
                {"rng", c.rng_names},
                {"metadata", c.metadata},
                {"optimizer_step", c.optimizer_step}};
    out["sampler"] = c.sampler ? json{{"epoch", c.sampler->epoch}, {"cursor", c.sampler->cursor}}
                               : json(nullptr);
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << c.info.path << ": step " << c.info.step << ", world size " << c.info.world_size
            << ", " << FormatBytes(c.info.bytes) << ", created " << c.info.created << "\n";
  std::cout << "job " << (c.job_id.empty() ? "(none)" : c.job_id) << ", libtrain "
            << c.library_version << "\n";
  std::size_t name_width = 6;
  for (const auto& t : c.tensors) name_width = std::max(name_width, t.name.size() + 2);
  std::cout << "\ntensors (" << c.tensors.size() << ")\n  " << Padded("NAME", name_width)
            << Padded("DTYPE", 10) << Padded("SHAPE", 20) << Padded("LAYOUT", 12) << "FILES\n";
  for (const auto& t : c.tensors) {
    std::string files;
    for (const auto& f : t.files) files += (files.empty() ? "" : ",") + f;
    std::cout << "  " << Padded(t.name, name_width)
              << Padded(std::string(train::DTypeName(t.dtype)), 10)
              << Padded(ShapeText(t.shape), 20)
              << Padded(t.replicated ? "replicated" : "sharded", 12) << files << "\n";
  }
  std::cout << "\nsampler    " << (c.sampler ? c.sampler->Serialize() : std::string("(none)"))
            << "\n";
  std::cout << "optimizer  "
            << (c.optimizer_step < 0 ? std::string("(none)")
                                     : "step " + std::to_string(c.optimizer_step))
            << "\n";
  std::string rng;
  for (const auto& name : c.rng_names) rng += (rng.empty() ? "" : ", ") + name;
  std::cout << "rng        " << (rng.empty() ? "(none)" : rng) << "\n";
  std::cout << "metadata   "
            << (c.metadata.empty() ? "(none)" : std::to_string(c.metadata.size()) + " entries")
            << "\n";
  for (const auto& [key, value] : c.metadata) std::cout << "  " << key << " = " << value << "\n";
  return kExitOk;
}

CommandRunner AddCkptCommands(CLI::App* app) {
  struct Flags {
    CkptListFlags ls;
    CkptVerifyFlags verify;
    CkptInspectFlags inspect;
  };
  auto flags = std::make_shared<Flags>();
  auto* ckpt = app->add_subcommand(
      "ckpt", "Checkpoints: list them, verify their files and checksums, show what one holds");
  ckpt->require_subcommand(1);
  ckpt->footer(R"(
Examples:
  trainctl ckpt ls /ckpt/job                     step, world size, size, created, latest (*)
  trainctl ckpt verify /ckpt/job                 every checkpoint: OK, or the bad file and why
  trainctl ckpt verify /ckpt/job/step-1200       one checkpoint
  trainctl ckpt inspect /ckpt/job/step-1200      tensors, sampler, optimizer, rng, metadata
  trainctl ckpt inspect --json /ckpt/job/step-1200 | jq '.tensors[].name'

The files are HDF5 (rank-R.h5) and open with h5dump and h5py; manifest.json is written last.
Exit codes: 0 success, 1 a checkpoint failed to verify or could not be read, 2 usage (a path
that does not exist).)");
  auto* ls = ckpt->add_subcommand(
      "ls", "List the committed checkpoints of a directory, newest first; * marks `latest`");
  ls->add_option("DIR", flags->ls.dir, "Checkpoint directory (spec.checkpoint.dir)")->required();
  ls->add_flag("--json", flags->ls.json, "Print JSON for programs");
  auto* verify = ckpt->add_subcommand(
      "verify",
      "Check checkpoints against their manifests (every file's size and checksum); exit 1 "
      "naming the bad file when one fails");
  verify
      ->add_option("PATH", flags->verify.path,
                   "A checkpoint directory (every step-N in it) or one DIR/step-N")
      ->required();
  verify->add_flag("-q,--quiet", flags->verify.quiet, "Print failures only");
  auto* inspect = ckpt->add_subcommand(
      "inspect",
      "Show what one checkpoint holds: tensors (dtype, shape, replicated or sharded, files), "
      "sampler position, optimizer step, RNG names, metadata");
  inspect->add_option("STEP_DIR", flags->inspect.step_dir, "DIR/step-N")->required();
  inspect->add_flag("--json", flags->inspect.json, "Print JSON for programs");

  return [=]() -> std::optional<int> {
    if (ls->parsed()) return RunCkptList(flags->ls);
    if (verify->parsed()) return RunCkptVerify(flags->verify);
    if (inspect->parsed()) return RunCkptInspect(flags->inspect);
    return std::nullopt;
  };
}

}  // namespace trainctl::cli
