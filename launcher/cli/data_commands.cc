// trainctl data import and inspect: flags to options, progress on a terminal, errors to exit codes.
#include "data_commands.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string_view>

#include "commands.h"
#include "importers.h"
#include "inspect.h"
#include "output_file.h"
#include "shape_text.h"

namespace trainctl::cli {
namespace {

using data::ShapeText;

static_assert(kDefaultDataCompression == data::kDefaultCompression);

using Clock = std::chrono::steady_clock;

// Set by the handler below; a signal handler can only reach a global.
volatile std::sig_atomic_t stop_signal = 0;

// The first signal asks the import to stop at its next chunk, or makes a blocked read fail with
// EINTR; the import then removes its temporary file on the way out. A signal that lands just
// before a read blocks interrupts nothing, so a tick (SIGALRM, every second from then on)
// interrupts the read later. A second signal does not wait: it removes the temporary file
// here and dies of the signal, as usual.
extern "C" void OnStopSignal(int signal_number) {
  if (stop_signal == 0) {
    stop_signal = signal_number;
    alarm(1);
    return;
  }
  data::RemoveTempFileForSignal();
  signal(signal_number, SIG_DFL);
  raise(signal_number);
}

extern "C" void OnStopTick(int /*signal_number*/) {
  if (stop_signal != 0) alarm(1);
}

// While alive, Ctrl-C (SIGINT) or SIGTERM stops the import as above. No SA_RESTART: a read
// blocked on a pipe returns, so the stop is not delayed by an input that never comes.
class StopOnSignal {
 public:
  StopOnSignal() {
    stop_signal = 0;
    struct sigaction action = {};
    action.sa_flags = 0;
    sigemptyset(&action.sa_mask);
    action.sa_handler = OnStopTick;
    sigaction(SIGALRM, &action, &old_alarm_);
    action.sa_handler = OnStopSignal;
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopOnSignal() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    alarm(0);
    sigaction(SIGALRM, &old_alarm_, nullptr);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  struct sigaction old_int_ = {};
  struct sigaction old_term_ = {};
  struct sigaction old_alarm_ = {};
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
    if (total == 0) {  // streamed: the total is not known
      std::fprintf(stderr, "\r\033[Kimporting %.*s: %llu rows", static_cast<int>(what.size()),
                   what.data(), static_cast<unsigned long long>(done));
    } else {
      const double percent = 100.0 * static_cast<double>(done) / static_cast<double>(total);
      std::fprintf(stderr, "\r\033[Kimporting %.*s: %llu/%llu rows (%.0f%%)",
                   static_cast<int>(what.size()), what.data(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                   percent);
    }
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

int Fail(std::string_view command, const train::Status& status) {
  std::cerr << "trainctl data " << command << ": " << status.message() << "\n";
  return kExitFailure;
}

int ReportImport(std::string_view command, const train::Result<data::ImportSummary>& summary,
                 Clock::time_point start) {
  if (!summary.ok() && stop_signal != 0) {
    // Stopped at a chunk (kCancelled) or in a read the signal interrupted: either way the
    // import stopped because of the signal, and removed what it had written.
    std::cerr << "trainctl data " << command << ": stopped by signal " << stop_signal
              << "; nothing was written (" << summary.status().message() << ")\n";
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
  // The command's boundary: whatever escapes the import (memory that ran out where the import
  // does not catch it) is an error message and exit code 1, never an abort; the temporary file
  // was removed on the way out.
  try {
    train::Result<data::ImportSummary> summary = [&] {
      StopOnSignal stop;
      ProgressLine progress;  // erased before the summary is printed
      return import(options, progress.Callback());
    }();
    return ReportImport(command, summary, start);
  } catch (const std::bad_alloc&) {
    std::cerr << "trainctl data " << command
              << ": out of memory; nothing was written. Raise the memory limit or free memory, "
                 "and retry\n";
  } catch (const std::exception& e) {
    std::cerr << "trainctl data " << command << ": failed: " << e.what()
              << "; nothing was written\n";
  }
  return kExitFailure;
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
  try {
    train::Result<data::FileInfo> info = data::InspectFile(flags.file);
    if (!info.ok()) return Fail("inspect", info.status());
    std::cout << (flags.json ? data::FormatInspectJson(*info) : data::FormatInspectText(*info));
    return kExitOk;
  } catch (const std::bad_alloc&) {
    std::cerr << "trainctl data inspect: " << flags.file << ": out of memory\n";
  } catch (const std::exception& e) {
    std::cerr << "trainctl data inspect: " << flags.file << ": " << e.what() << "\n";
  }
  return kExitFailure;
}

}  // namespace trainctl::cli
