// Fuzz target: bytes as an IDX file, gzip'd or not (the bytes decide), through the real reader:
// the header and every row in batches, then the check for trailing bytes (IdxReader, as the
// import streams it). When the header is sound and small (at most 4096 rows), the bytes are
// also imported for real into a temporary HDF5 file (ImportIdx): as the images, with labels
// made to match, or as the labels of made-up images when they are 1-D. No input may crash,
// throw, hang, or allocate what its header claims rather than what it holds.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data_fuzz_dir.h"
#include "idx_reader.h"
#include "importers.h"

namespace {

using trainctl::data::IdxReader;

const trainctl::fuzz::FuzzDir& Dir() {
  static const trainctl::fuzz::FuzzDir dir("idx-import-fuzz");
  return dir;
}

// An uncompressed uint8 IDX file of `dims`, zeros; returns its path.
std::string WriteIdx(const std::string& name, const std::vector<std::uint32_t>& dims) {
  std::vector<std::uint8_t> bytes = {0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
  std::uint64_t count = 1;
  for (std::uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(static_cast<std::uint8_t>(d >> shift));
    count *= d;
  }
  bytes.resize(bytes.size() + count, 0);
  return Dir().Write(name, bytes.data(), bytes.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input = Dir().Write("input", data, size);
  auto reader = IdxReader::Open(input);
  if (!reader.ok()) return 0;
  const auto header = (*reader)->header();
  // Batches of 64 rows, or fewer, larger ones: rows of 0 bytes can number 2^32.
  const std::uint64_t step = std::max<std::uint64_t>(64, header.rows() / 16);
  std::vector<std::uint8_t> rows;
  for (std::uint64_t done = 0; done < header.rows();) {
    const std::uint64_t n = std::min<std::uint64_t>(step, header.rows() - done);
    if (!(*reader)->ReadRows(n, &rows).ok()) break;
    done += n;
    if (done == header.rows()) (void)(*reader)->CheckAtEnd();
  }
  reader->reset();
  if (header.rows() > 4096) return 0;

  trainctl::data::IdxImportOptions options;
  options.output_path = Dir().File("out.h5");
  options.force = true;
  options.compression = 1;
  const auto count = static_cast<std::uint32_t>(header.rows());
  if (header.dims.size() == 1) {
    options.images_path = WriteIdx("images", {count, 2});
    options.labels_path = input;
  } else {
    options.images_path = input;
    options.labels_path = WriteIdx("labels", {count});
  }
  (void)trainctl::data::ImportIdx(options);
  return 0;
}
