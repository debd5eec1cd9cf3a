// Fuzz target: bytes as a TrainingJob spec, through the real loader: the bounds pass, YAML
// decoding into the protobuf, defaults and validation (ParseJob, as `trainctl validate` runs
// it). No input may crash, throw, hang, or cost more than the loader's bounds allow (aliases
// expanding without end, nesting past the parser's stack, megabyte names in suggestions).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "job_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  trainctl::spec::JobFile job = trainctl::spec::ParseJob(text, "fuzz.yaml");
  const std::string errors = job.FormatErrors();
  if (job.ok() != errors.empty()) __builtin_trap();
  return 0;
}
