// trainctl data import and inspect: flags to options, progress on a terminal, errors to exit codes.
#include "data_commands.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string_view>

#include "commands.h"
#include "importers.h"
#include "inspect.h"

namespace trainctl::cli {
namespace {

static_assert(kDefaultDataCompression == data::kDefaultCompression);

using Clock = std::chrono::steady_clock;

// Set by the handler below; a signal handler can only reach a global.
volatile std::sig_atomic_t stop_signal = 0;
extern "C" void OnStopSignal(int signal_number) { stop_signal = signal_number; }

// While alive, Ctrl-C (SIGINT) or SIGTERM asks the import to stop at the next chunk, so that it
// removes its temporary file; a second signal acts as usual (kills).
class StopOnSignal {
 public:
  StopOnSignal() {
    stop_signal = 0;
    struct sigaction action = {};
    action.sa_handler = OnStopSignal;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopOnSignal() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
};

// One line on stderr, redrawn in place, only on a terminal and only once an import has run long
// enough to be worth watching; erased when done.
class ProgressLine {
 public:
  ProgressLine() : enabled_(isatty(STDERR_FILENO) == 1), start_(Clock::now()) {}
  ~ProgressLine() {
    if (drawn_) std::fputs("\r\033[K", stderr);
  }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Returns whether to go on: false once a stop signal came.
  bool Update(std::string_view what, uint64_t done, uint64_t total) {
    if (stop_signal != 0) return false;
    if (!enabled_) return true;
    const Clock::time_point now = Clock::now();
    if (now - start_ < std::chrono::milliseconds(300) ||
        now - last_ < std::chrono::milliseconds(100)) {
      return true;
    }
    last_ = now;
    drawn_ = true;
    const double percent =
        total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0;
    std::fprintf(stderr, "\r\033[Kimporting %.*s: %llu/%llu rows (%.0f%%)",
                 static_cast<int>(what.size()), what.data(), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), percent);
    std::fflush(stderr);
    return true;
  }

  data::ProgressFn Callback() {
    return [this](std::string_view what, uint64_t done, uint64_t total) {
      return Update(what, done, total);
    };
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_;
  Clock::time_point last_{};
};

std::string ShapeText(const std::vector<uint64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

int Fail(std::string_view command, const train::Status& status) {
  std::cerr << "trainctl data " << command << ": " << status.message() << "\n";
  return kExitFailure;
}

int ReportImport(std::string_view command, const train::Result<data::ImportSummary>& summary,
                 Clock::time_point start) {
  if (!summary.ok() && summary.status().code() == train::StatusCode::kCancelled &&
      stop_signal != 0) {
    std::cerr << "trainctl data " << command << ": " << summary.status().message() << "\n";
    return 128 + stop_signal;  // as if killed by it, the shell's convention
  }
  if (!summary.ok()) return Fail(command, summary.status());
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "wrote " << summary->output_path << " (" << data::FormatBytes(summary->file_bytes)
            << "): ";
  for (size_t i = 0; i < summary->datasets.size(); ++i) {
    const data::ImportedDataset& d = summary->datasets[i];
    std::cout << (i ? ", " : "") << d.name << " " << d.dtype << " " << ShapeText(d.shape);
  }
  char elapsed[32];
  std::snprintf(elapsed, sizeof(elapsed), "%.2f", seconds);
  std::cout << "; " << summary->rows << " rows in " << elapsed << " s\n";
  return kExitOk;
}

// Checks the options, then imports with Ctrl-C handling and a progress line, and reports.
template <typename Options, typename Import>
int RunImport(std::string_view command, const Options& options, const train::Status& valid,
              Import import) {
  if (!valid.ok()) {
    std::cerr << "trainctl data " << command << ": " << valid.message() << "\n";
    return kExitUsage;
  }
  const Clock::time_point start = Clock::now();
  train::Result<data::ImportSummary> summary = [&] {
    StopOnSignal stop;
    ProgressLine progress;  // erased before the summary is printed
    return import(options, progress.Callback());
  }();
  return ReportImport(command, summary, start);
}

}  // namespace

int RunDataImportIdx(const ImportIdxFlags& flags) {
  data::IdxImportOptions options;
  options.images_path = flags.images;
  options.labels_path = flags.labels;
  options.output_path = flags.output;
  options.images_field = flags.images_field;
  options.labels_field = flags.labels_field;
  options.chunk_rows = flags.chunk_rows;
  options.compression = flags.compression;
  options.force = flags.force;
  return RunImport("import idx", options, data::ValidateIdxImportOptions(options),
                   [](const auto& o, auto progress) { return data::ImportIdx(o, progress); });
}

int RunDataImportCsv(const ImportCsvFlags& flags) {
  data::CsvImportOptions options;
  options.input_path = flags.input;
  options.output_path = flags.output;
  options.skip_rows = flags.skip_rows;
  options.target = flags.target;
  options.chunk_rows = flags.chunk_rows;
  options.compression = flags.compression;
  options.force = flags.force;
  return RunImport("import csv", options, data::ValidateCsvImportOptions(options),
                   [](const auto& o, auto progress) { return data::ImportCsv(o, progress); });
}

int RunDataInspect(const InspectFlags& flags) {
  train::Result<data::FileInfo> info = data::InspectFile(flags.file);
  if (!info.ok()) return Fail("inspect", info.status());
  std::cout << (flags.json ? data::FormatInspectJson(*info) : data::FormatInspectText(*info));
  return kExitOk;
}

}  // namespace trainctl::cli
