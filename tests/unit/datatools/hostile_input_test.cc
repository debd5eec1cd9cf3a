// Inputs built to hurt: numbers past any type, headers that claim more than the file holds,
// lines without end, pipes, a memory limit, temporary files of a killed import. Each gets a
// clear error (or works) and leaves nothing behind.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "../../sanitizer_build.h"
#include "csv_reader.h"
#include "datatools_test_util.h"
#include "idx_reader.h"
#include "importers.h"
#include "output_file.h"

namespace trainctl::data {
namespace {

using ::testing::ElementsAre;
using testing::EntryNames;
using ::testing::HasSubstr;
using testing::IdxBytes;
using testing::ScratchDir;
using testing::SomeBytes;
using testing::WriteBytes;
using testing::WriteText;

std::string CsvError(const std::string& text) {
  auto table = ParseCsv(text, "f.csv", CsvOptions{});
  EXPECT_FALSE(table.ok());
  return table.ok() ? "" : table.status().message();
}

TEST(HostileCsvTest, ADeclaredRowCountPastUint64IsAnErrorNamingTheCell) {
  // Was: std::stoull threw out_of_range and the process aborted.
  EXPECT_THAT(CsvError("99999999999999999999999,3\na,b,c\n1,2,3\n"),
              HasSubstr("f.csv:1:1: the first line declares \"99999999999999999999999\" rows"));
}

TEST(HostileCsvTest, ACellPastFloat64SaysOutOfRange) {
  EXPECT_THAT(CsvError("a,b\n1,1e999\n"),
              HasSubstr("f.csv:2:3: column 2 (b): \"1e999\" is out of the range of a float64"));
}

TEST(HostileCsvTest, ALineWithoutEndIsRefusedAtTheBound) {
  std::string text = "a,b\n" + std::string(kMaxCsvLineBytes + 10, '1');
  EXPECT_THAT(CsvError(text), HasSubstr("f.csv:2: a line longer than 8 MiB"));
}

TEST(HostileCsvTest, ANulByteIsBinaryData) {
  EXPECT_THAT(CsvError(std::string("a,b\n1,\0\n", 8)), HasSubstr("f.csv:2: holds binary data"));
}

TEST(HostileCsvTest, AGzipBombOfOneLineStopsAtTheBoundWithoutReadingOn) {
  // 256 MiB of '1' without a newline, gzip'd to about 256 KiB: the whole line was read into
  // memory before; now the read stops after 8 MiB.
  ScratchDir dir;
  const std::string path = dir / "bomb.csv.gz";
  gzFile file = gzopen(path.c_str(), "wb1");
  ASSERT_NE(file, nullptr);
  gzputs(file, "a,b\n");
  const std::string block(1 << 20, '1');
  for (int i = 0; i < 256; ++i) {
    ASSERT_EQ(gzwrite(file, block.data(), static_cast<unsigned>(block.size())), 1 << 20);
  }
  ASSERT_EQ(gzclose(file), Z_OK);
  auto table = ReadCsvFile(path, {});
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr(path + ":2: a line longer than 8 MiB"));
}

TEST(HostileCsvTest, ReadsAPipeAsAStream) {
  ScratchDir dir;
  const std::string path = dir / "rows.csv";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(path) << "x,y\n1,2\n3,4\n"; });
  auto table = ReadCsvFile(path, {});
  writer.join();
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->values, ElementsAre(1, 2, 3, 4));
}

// An IDX file's header alone (no body), gzip'd or plain.
std::string WriteHeader(const ScratchDir& dir, const std::string& name, uint8_t type,
                        const std::vector<uint32_t>& dims, bool gzip) {
  const std::string path = dir / name;
  WriteBytes(path, IdxBytes(type, dims, {}), gzip);
  return path;
}

std::string OpenError(const std::string& path) {
  auto reader = IdxReader::Open(path);
  EXPECT_FALSE(reader.ok());
  if (reader.ok()) return "";
  EXPECT_EQ(reader.status().code(), train::StatusCode::kDataLoss);
  return reader.status().message();
}

TEST(HostileIdxTest, ASmallGzipClaimingGigabytesIsRefusedBeforeAnyRead) {
  // 42 bytes that claim 2 x 3 GiB: 3 GiB were allocated before "truncated" was found.
  ScratchDir dir;
  const std::string rows = WriteHeader(dir, "rows.gz", 0x08, {2, 3u << 30}, true);
  EXPECT_THAT(OpenError(rows), HasSubstr("rows of more than 64 MiB each"));
  // Rows within the bound, but far more of them than 30 gzip'd bytes can hold.
  const std::string many = WriteHeader(dir, "many.gz", 0x08, {200000, 28, 28}, true);
  EXPECT_THAT(OpenError(many), HasSubstr("gzip'd bytes cannot decompress to more than"));
}

TEST(HostileIdxTest, DimensionsWhoseProductOverflowsAreRefused) {
  ScratchDir dir;
  // 2^32-1 squared overflowed nothing before only by luck; with a zero first dimension the
  // total is 0 bytes while each row is astronomically large.
  const std::string zero =
      WriteHeader(dir, "zero", 0x0E, {0, 0xffffffffu, 0xffffffffu, 0xffffffffu}, false);
  EXPECT_THAT(OpenError(zero), HasSubstr("rows of more than 64 MiB each"));
  std::vector<uint32_t> dims(40, 1);
  const std::string rank = WriteHeader(dir, "rank", 0x08, dims, false);
  EXPECT_THAT(OpenError(rank), HasSubstr("announces 40 dimensions; HDF5 holds at most 32"));
}

TEST(HostileIdxTest, AGzipThatEndsEarlyCostsWhatArrivedNotWhatWasClaimed) {
  // 60 MiB of rows claimed (within the ratio of a ~60 KiB file), 1 KiB present: found truncated.
  ScratchDir dir;
  std::vector<uint8_t> bytes = IdxBytes(0x08, {60, 1024, 1024}, SomeBytes(1024, 3));
  bytes.resize(bytes.size() + 64 * 1024, 0);  // padding that compresses: the file looks big
  const std::string path = dir / "short.gz";
  WriteBytes(path, {}, false);
  {
    gzFile file = gzopen(path.c_str(), "wb0");  // stored, so the file is really ~64 KiB
    ASSERT_NE(file, nullptr);
    ASSERT_GT(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), 0);
    ASSERT_EQ(gzclose(file), Z_OK);
  }
  auto reader = IdxReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<uint8_t> out;
  train::Status status = (*reader)->ReadRows(60, &out);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("truncated: the file ends in row 0 of the 60"));
  EXPECT_LT(out.capacity(), size_t{4} << 20) << "the buffer followed the claim";
}

TEST(HostileIdxTest, ImportsFromAPipe) {
  // The gzip sniffing used to read the first bytes separately, which a pipe loses.
  ScratchDir dir;
  IdxImportOptions options;
  options.images_path = dir / "images";
  options.labels_path = dir / "labels";
  options.output_path = dir / "out.h5";
  ASSERT_EQ(mkfifo(options.images_path.c_str(), 0600), 0);
  WriteBytes(options.labels_path, IdxBytes(0x08, {5}, {1, 2, 3, 4, 5}), false);
  const std::vector<uint8_t> images = IdxBytes(0x08, {5, 2, 2}, SomeBytes(20, 9));
  std::thread writer([&] {
    std::ofstream out(options.images_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(images.data()),
              static_cast<std::streamsize>(images.size()));
  });
  auto summary = ImportIdx(options);
  writer.join();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows, 5u);
}

// Runs `body` in a child process whose address space is limited to what it uses now plus
// `headroom`; returns the child's wait status.
template <typename Body>
int InChildWithMemoryLimit(uint64_t headroom, Body body) {
  const pid_t pid = fork();
  if (pid == 0) {
    uint64_t vm_kib = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmSize:", 0) == 0) vm_kib = std::strtoull(line.c_str() + 7, nullptr, 10);
    }
    const rlim_t limit = vm_kib * 1024 + headroom;
    const rlimit rl{limit, limit};
    if (vm_kib == 0 || setrlimit(RLIMIT_AS, &rl) != 0) _exit(99);
    _exit(body());
  }
  int status = -1;
  waitpid(pid, &status, 0);
  return status;
}

TEST(HostileMemoryTest, ACsvLargerThanTheMemoryLimitIsStreamed) {
  TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN();
  // 96 MiB of rows gzip'd to ~300 KiB, imported with 48 MiB of address space to spare: the
  // whole text was held in memory before (abort on bad_alloc); now rows go in batches.
  ScratchDir dir;
  CsvImportOptions options;
  options.input_path = dir / "rows.csv.gz";
  options.output_path = dir / "rows.h5";
  options.compression = 1;
  gzFile file = gzopen(options.input_path.c_str(), "wb6");
  ASSERT_NE(file, nullptr);
  gzputs(file, "a,b,c,d\n");
  std::string block;
  const std::string cell = "1.000000000000000000000000000000000000000000000000000000000000001";
  while (block.size() < (1 << 20)) block += cell + "," + cell + "," + cell + "," + cell + "\n";
  uint64_t rows = 0;
  for (int i = 0; i < 96; ++i) {
    ASSERT_GT(gzwrite(file, block.data(), static_cast<unsigned>(block.size())), 0);
    rows += static_cast<uint64_t>(std::count(block.begin(), block.end(), '\n'));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
  const int status = InChildWithMemoryLimit(uint64_t{48} << 20, [&] {
    auto summary = ImportCsv(options);
    if (!summary.ok()) {
      std::fprintf(stderr, "%s\n", summary.status().ToString().c_str());
      return 1;
    }
    return summary->rows == rows ? 0 : 2;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_THAT(EntryNames(dir), ElementsAre("rows.csv.gz", "rows.h5"));
}

TEST(HostileMemoryTest, RunningOutOfMemoryIsAnErrorAndLeavesNothing) {
  TRAIN_SKIP_MEMORY_LIMIT_UNDER_ASAN();
  // Two 48 MiB rows with 40 MiB to spare: the import cannot hold one row; it must say so
  // and remove its temporary file, not abort.
  ScratchDir dir;
  IdxImportOptions options;
  options.images_path = dir / "images.gz";
  options.labels_path = dir / "labels.gz";
  options.output_path = dir / "out.h5";
  options.compression = 1;
  {
    gzFile file = gzopen(options.images_path.c_str(), "wb1");
    ASSERT_NE(file, nullptr);
    const std::vector<uint8_t> header = IdxBytes(0x08, {2, 48, 1024, 1024}, {});
    ASSERT_GT(gzwrite(file, header.data(), static_cast<unsigned>(header.size())), 0);
    const std::vector<uint8_t> zeros(1 << 20, 0);
    for (int i = 0; i < 96; ++i) ASSERT_GT(gzwrite(file, zeros.data(), 1 << 20), 0);
    ASSERT_EQ(gzclose(file), Z_OK);
  }
  WriteBytes(options.labels_path, IdxBytes(0x08, {2}, {1, 2}), true);
  const int status = InChildWithMemoryLimit(uint64_t{40} << 20, [&] {
    auto summary = ImportIdx(options);
    if (summary.ok()) return 3;
    std::fprintf(stderr, "%s\n", summary.status().ToString().c_str());
    return summary.status().code() == train::StatusCode::kResourceExhausted ||
                   summary.status().code() == train::StatusCode::kInternal
               ? 0
               : 4;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_THAT(EntryNames(dir), ElementsAre("images.gz", "labels.gz"));
}

TEST(StaleTempFileTest, PrepareRemovesTheTemporaryFilesOfDeadProcessesOnly) {
  ScratchDir dir;
  const pid_t dead = fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  const std::string stale = ".out.h5.tmp-" + std::to_string(dead) + "-0";
  const std::string live = ".out.h5.tmp-" + std::to_string(getppid()) + "-0";
  const std::string other = ".other.h5.tmp-" + std::to_string(dead) + "-0";
  for (const std::string& name : {stale, live, other}) WriteText(dir / name, "partial");
  auto output = AtomicOutput::Prepare(dir / "out.h5", false);
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ(EntryNames(dir), (std::set<std::string>{live, other}));
}

}  // namespace
}  // namespace trainctl::data
