// TensorBoard's event files, written without TensorFlow: TFRecord framing (a length and the
// data, each followed by its masked CRC32C) around Event protos (tensorboard_event.proto).
// WriteTensorBoard (run_report.h) puts a run's curves in RUN_DIR/tb/, so that
// `tensorboard --logdir runs/` shows every run.
#ifndef TRAINCTL_REPORT_TENSORBOARD_H_
#define TRAINCTL_REPORT_TENSORBOARD_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace trainctl::report {

// CRC32C (Castagnoli) of `data`.
std::uint32_t Crc32c(std::string_view data);

// TFRecord's masked CRC: rotated right by 15 bits, plus 0xa282ead8.
std::uint32_t MaskedCrc32c(std::string_view data);

// One TFRecord: uint64 length, uint32 masked CRC of those 8 bytes, the data, uint32 masked CRC
// of the data; little-endian.
std::string TfRecord(std::string_view data);

// The name of the event file a run gets: events.out.tfevents.<start second>.trainctl.
std::string EventFileName(double start_time);

}  // namespace trainctl::report

#endif  // TRAINCTL_REPORT_TENSORBOARD_H_
