#include "checkpoint_bench.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "summary.h"
#include "train/checkpoint.h"

namespace bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
constexpr int kTensors = 8;

struct Flags {
  std::uint64_t bytes = std::uint64_t{1} << 30;
  std::string dir;
  int iters = 3;
};

// "1G", "256M", "4096K" or bytes.
bool ParseBytes(const std::string& text, std::uint64_t* bytes) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  const std::string suffix = end;
  if (end == text.c_str()) return false;
  const std::uint64_t scale = suffix.empty()                   ? 1
                              : suffix == "K" || suffix == "k" ? 1024
                              : suffix == "M" || suffix == "m" ? kMiB
                              : suffix == "G" || suffix == "g" ? kMiB * 1024
                                                               : 0;
  *bytes = value * scale;
  return scale != 0;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Evicts a file's clean pages from the page cache, so that the next read comes from the disk.
void DropFromCache(const fs::path& file) {
  const int fd = open(file.c_str(), O_RDONLY);
  if (fd < 0) return;
  (void)fdatasync(fd);
  (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

void DropDirectoryFromCache(const fs::path& dir) {
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) DropFromCache(entry.path());
  }
}

// Seconds to read every file under `dir` sequentially in 16 MiB blocks.
double ReadAll(const fs::path& dir, std::vector<char>& buffer) {
  const Clock::time_point start = Clock::now();
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const int fd = open(entry.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    while (read(fd, buffer.data(), buffer.size()) > 0) {
    }
    close(fd);
  }
  return Seconds(start);
}

// Seconds for dd to write `bytes` of zeros to `file` and fsync it; negative when dd failed.
double TimeDd(const fs::path& file, std::uint64_t bytes) {
  const std::string command = "dd if=/dev/zero of=" + file.string() +
                              " bs=16M count=" + std::to_string(bytes / (16 * kMiB)) +
                              " conv=fsync status=none";
  const Clock::time_point start = Clock::now();
  const int status = std::system(command.c_str());
  const double seconds = Seconds(start);
  fs::remove(file);
  return status == 0 ? seconds : -1;
}

struct Row {
  std::string what;
  Summary seconds;
  std::string vs;
};

void PrintRow(const Row& row, double gib) {
  Summary rate = row.seconds;
  if (rate.count > 0) {
    rate.median = gib / row.seconds.median;
    rate.min = gib / row.seconds.max;
    rate.max = gib / row.seconds.min;
  }
  std::printf("| %-36s | %-24s | %-22s | %-28s |\n", row.what.c_str(), Cell(row.seconds, 3).c_str(),
              Cell(rate, 2).c_str(), row.vs.c_str());
}

std::string Percent(const Summary& part, const Summary& whole, bool rate, const char* of,
                    const char* target) {
  if (part.count == 0 || whole.count == 0) return "n/a";
  // For throughput the faster (smaller time) is better: compare rates, not times.
  const double ratio = rate ? whole.median / part.median : part.median / whole.median;
  char text[96];
  std::snprintf(text, sizeof(text), "%.0f%% of %s (%s)", 100 * ratio, of, target);
  return text;
}

}  // namespace

int RunCheckpointBench(int argc, char** argv) {
  Flags flags;
  CLI::App app(
      "Saves and loads a state of --bytes bytes (8 float32 tensors) with train::Checkpointer,\n"
      "--iters times: a synchronous Save against dd writing as many bytes with conv=fsync, an\n"
      "asynchronous Save (the stall until it returns, and until written), and a Load against a\n"
      "sequential read of the same files, both from a cold page cache. Prints seconds and GiB/s,\n"
      "median [min, max], with each ratio's target.",
      "train-bench checkpoint");
  app.footer(R"(
Example:
  train-bench checkpoint --bytes 256M --dir /var/tmp --iters 5

Exit status: 0 when done, 1 when a save, a load or dd failed, 2 on bad flags.)");
  std::string bytes = "1G";
  app.add_option("--bytes", bytes,
                 "the state's size: bytes, or with a suffix K, M or G (powers of 1024); a "
                 "multiple of 16M, dd's block")
      ->capture_default_str();
  app.add_option("--dir", flags.dir,
                 "where to write, in a train-bench-ckpt directory removed after (default: a new "
                 "directory under $TMPDIR or /tmp)");
  app.add_option("--iters", flags.iters, "repetitions of every measurement")
      ->check(Positive<int>())
      ->capture_default_str();
  if (auto exit = ParseCommandLine(app, argc, argv, [&] {
        // dd writes whole 16 MiB blocks; the state is split into kTensors tensors of float32.
        if (!ParseBytes(bytes, &flags.bytes) || flags.bytes < 16 * kMiB ||
            flags.bytes % (16 * kMiB) != 0) {
          throw CLI::ValidationError("--bytes " + bytes +
                                     ": want a size like 1G or 256M (K, M, G: powers of 1024), a "
                                     "multiple of 16M");
        }
      })) {
    return *exit;
  }
  const bool own_dir = flags.dir.empty();
  const fs::path root =
      own_dir ? fs::temp_directory_path() / ("train-bench-ckpt-" + std::to_string(getpid()))
              : fs::path(flags.dir) / "train-bench-ckpt";
  fs::create_directories(root);

  // The state: kTensors float32 tensors, filled with a pattern (not zeros, like real weights).
  const std::uint64_t per_tensor = flags.bytes / kTensors / sizeof(float);
  std::vector<std::unique_ptr<float[]>> buffers;
  train::CheckpointState state;
  for (int t = 0; t < kTensors; ++t) {
    buffers.emplace_back(new float[per_tensor]);
    for (std::uint64_t i = 0; i < per_tensor; ++i) {
      buffers.back()[i] = static_cast<float>((i * 2654435761u + t) % 1000003) * 1e-6f;
    }
    train::CheckpointTensor tensor;
    tensor.name = "layer" + std::to_string(t) + "/weight";
    tensor.data = {buffers.back().get(), train::DType::kFloat32, per_tensor};
    state.tensors.push_back(tensor);
  }
  const double gib = static_cast<double>(per_tensor * sizeof(float) * kTensors) / (kMiB * 1024);

  train::CheckpointOptions sync_options;
  sync_options.async = false;
  sync_options.keep_last = 1;
  train::CheckpointOptions async_options = sync_options;
  async_options.async = true;
  async_options.memory_budget_bytes = flags.bytes + 64 * kMiB;  // the whole state in one wave
  auto sync_ckpt = train::Checkpointer::Open((root / "sync").string(), nullptr, sync_options);
  auto async_ckpt = train::Checkpointer::Open((root / "async").string(), nullptr, async_options);
  if (!sync_ckpt.ok() || !async_ckpt.ok()) {
    std::fprintf(stderr, "train-bench checkpoint: %s\n",
                 (!sync_ckpt.ok() ? sync_ckpt.status() : async_ckpt.status()).ToString().c_str());
    return 1;
  }

  std::vector<double> dd, sync_save, async_stall, async_total, read_cold, load_cold;
  std::vector<char> read_buffer(16 * kMiB);
  for (int iter = 1; iter <= flags.iters; ++iter) {
    const double dd_seconds = TimeDd(root / "dd.bin", flags.bytes);
    if (dd_seconds < 0) {
      std::fprintf(stderr, "train-bench checkpoint: dd failed writing to %s\n", root.c_str());
      return 1;
    }
    dd.push_back(dd_seconds);

    Clock::time_point start = Clock::now();
    train::Status status = (*sync_ckpt)->Save(iter, state);
    sync_save.push_back(Seconds(start));

    start = Clock::now();
    if (status.ok()) status = (*async_ckpt)->Save(iter, state);
    async_stall.push_back(Seconds(start));
    if (status.ok()) status = (*async_ckpt)->WaitForSave();
    async_total.push_back(Seconds(start));
    if (!status.ok()) {
      std::fprintf(stderr, "train-bench checkpoint: %s\n", status.ToString().c_str());
      return 1;
    }

    // Both reads start cold: the files' pages are evicted first (posix_fadvise DONTNEED).
    const fs::path step_dir = root / "sync" / ("step-" + std::to_string(iter));
    DropDirectoryFromCache(step_dir);
    read_cold.push_back(ReadAll(step_dir, read_buffer));
    DropDirectoryFromCache(step_dir);
    start = Clock::now();
    auto loaded = (*sync_ckpt)->Load(iter, state);
    load_cold.push_back(Seconds(start));
    if (!loaded.ok()) {
      std::fprintf(stderr, "train-bench checkpoint: %s\n", loaded.status().ToString().c_str());
      return 1;
    }
  }

  const Summary dd_s = Summarize(dd), sync_s = Summarize(sync_save),
                stall_s = Summarize(async_stall), total_s = Summarize(async_total),
                read_s = Summarize(read_cold), load_s = Summarize(load_cold);
  std::printf(
      "checkpoint: %.2f GiB of state (%d float32 tensors) in %s; medians of %d "
      "[min, max]\n",
      gib, kTensors, root.c_str(), flags.iters);
  std::printf("| %-36s | %-24s | %-22s | %-28s |\n", "what", "seconds", "GiB/s", "ratio (target)");
  std::printf("|%s|%s|%s|%s|\n", std::string(38, '-').c_str(), std::string(26, '-').c_str(),
              std::string(24, '-').c_str(), std::string(30, '-').c_str());
  PrintRow({"dd bs=16M conv=fsync (zeros)", dd_s, ""}, gib);
  PrintRow({"sync Save", sync_s, Percent(sync_s, dd_s, true, "dd", ">= 80%")}, gib);
  PrintRow({"async Save: stall (until it returns)", stall_s,
            Percent(stall_s, sync_s, false, "sync Save", "<= 10%")},
           gib);
  PrintRow({"async Save: until written", total_s, ""}, gib);
  PrintRow({"sequential read, cold", read_s, ""}, gib);
  PrintRow({"Load, cold", load_s, Percent(load_s, read_s, true, "read", ">= 80%")}, gib);
  std::printf(
      "Reads are cold: every file's pages are evicted (posix_fadvise DONTNEED after "
      "fdatasync) before each read.\n");

  sync_ckpt->reset();
  async_ckpt->reset();
  std::error_code ignored;
  fs::remove_all(root, ignored);
  return 0;
}

}  // namespace bench
