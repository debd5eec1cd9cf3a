#include "tensorboard.h"

#include <unistd.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "launcher/report/tensorboard_event.pb.h"
#include "run_report.h"

namespace trainctl::report {
namespace {

namespace fs = std::filesystem;
namespace tb = trainctl::tensorboard;

std::array<std::uint32_t, 256> Crc32cTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1) ? 0x82F63B78u : 0);
    table[i] = crc;
  }
  return table;
}

void AppendLittleEndian(std::string* out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Per step, the value of the latest round that reached it: the curve the job ended up with
// (a restart's redone steps replace the ones before it).
std::map<std::int64_t, Point> FinalTimeline(const std::vector<Point>& points) {
  std::map<std::int64_t, Point> by_step;
  for (const Point& p : points) {
    auto [it, added] = by_step.emplace(p.step, p);
    if (!added && p.restart >= it->second.restart) it->second = p;
  }
  return by_step;
}

}  // namespace

std::uint32_t Crc32c(std::string_view data) {
  static const std::array<std::uint32_t, 256> table = Crc32cTable();
  std::uint32_t crc = 0xffffffffu;
  for (unsigned char byte : data) crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

std::uint32_t MaskedCrc32c(std::string_view data) {
  const std::uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string TfRecord(std::string_view data) {
  std::string length;
  AppendLittleEndian(&length, data.size(), 8);
  std::string record = length;
  AppendLittleEndian(&record, MaskedCrc32c(length), 4);
  record.append(data);
  AppendLittleEndian(&record, MaskedCrc32c(data), 4);
  return record;
}

std::string EventFileName(double start_time) {
  return "events.out.tfevents." + std::to_string(static_cast<std::int64_t>(start_time)) +
         ".trainctl";
}

train::Status WriteTensorBoard(const RunReport& report, const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    return train::PermissionDeniedError("cannot create " + dir + ": " + error.message() +
                                        "; make the run directory writable");
  }
  std::string file;
  tb::Event header;
  header.set_wall_time(report.start_time);
  header.set_file_version("brain.Event:2");
  file += TfRecord(header.SerializeAsString());
  std::map<std::string, const std::vector<Point>*> series = {
      {"loss", &report.loss}, {"samples_per_s", &report.samples_per_s}};
  for (const auto& [name, points] : report.accuracy) series[name] = &points;
  for (const auto& [tag, points] : series) {
    for (const auto& [step, p] : FinalTimeline(*points)) {
      if (!std::isfinite(p.y)) continue;
      tb::Event event;
      event.set_wall_time(report.start_time + p.x);
      event.set_step(step);
      tb::Summary::Value* value = event.mutable_summary()->add_value();
      value->set_tag(tag);
      value->set_simple_value(static_cast<float>(p.y));
      file += TfRecord(event.SerializeAsString());
    }
  }
  // Whole or not at all: TensorBoard may be reading the directory right now.
  const fs::path target = fs::path(dir) / EventFileName(report.start_time);
  const fs::path temporary = fs::path(dir) / (".tmp." + std::to_string(::getpid()));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
    if (!out.flush()) {
      fs::remove(temporary, error);
      return train::DataLossError("cannot write " + temporary.string() + " (is the disk full?)");
    }
  }
  fs::rename(temporary, target, error);
  if (error) {
    return train::DataLossError("cannot rename " + temporary.string() + " to " + target.string() +
                                ": " + error.message());
  }
  return train::Status::Ok();
}

}  // namespace trainctl::report
