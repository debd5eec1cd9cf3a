#include "job_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "defaults.h"
#include "validate.h"
#include "yaml_decoder.h"

namespace trainctl::spec {

std::string JobFile::FormatErrors() const {
  std::string out;
  for (const Diagnostic& d : errors) out += d.Format(file) + "\n";
  return out;
}

namespace {

JobFile TooLarge(std::string file, const std::string& size) {
  JobFile result;
  result.file = std::move(file);
  result.errors.push_back(
      Diagnostic{"",
                 {},
                 "the file holds " + size + " bytes; a TrainingJob spec is at most " +
                     std::to_string(kMaxJobFileBytes >> 20) +
                     " MiB (they are a few KiB): check that this is the job's spec"});
  return result;
}

}  // namespace

JobFile ParseJob(std::string_view text, std::string file) {
  if (text.size() > kMaxJobFileBytes) return TooLarge(std::move(file), std::to_string(text.size()));
  JobFile result;
  result.file = std::move(file);
  Diagnostics errors(&result.positions);
  DecodeYaml(text, &result.job, &result.positions, &errors);
  std::vector<Diagnostic> decode_errors = errors.Take();
  const bool syntax_error = !decode_errors.empty() && decode_errors.front().path.empty();
  ApplyDefaults(&result.job);
  Diagnostics semantic(&result.positions);
  if (!syntax_error) Validate(result.job, &semantic);
  // A field that failed to decode holds nothing: a second message about it would only
  // confuse, so semantic errors at or under a path already reported are dropped.
  // (Whole components only: heartbeat's error does not cover heartbeatTimeout.)
  const std::size_t decoded = decode_errors.size();
  for (Diagnostic& d : semantic.Take()) {
    bool covered = false;
    for (std::size_t i = 0; i < decoded; ++i) {
      const std::string& at = decode_errors[i].path;
      covered |=
          !at.empty() && d.path.rfind(at, 0) == 0 &&
          (d.path.size() == at.size() || d.path[at.size()] == '.' || d.path[at.size()] == '[');
    }
    if (!covered) decode_errors.push_back(std::move(d));
  }
  Diagnostics all(&result.positions);
  for (Diagnostic& d : decode_errors) all.ErrorAt(d.path, d.position, std::move(d.message));
  result.errors = all.Take();
  return result;
}

JobFile LoadJobFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    JobFile result;
    result.file = path;
    result.errors.push_back(
        Diagnostic{"", {}, std::string("cannot read the file: ") + std::strerror(errno)});
    return result;
  }
  // Read no more than the bound allows, whatever the file is (/dev/zero, a pipe that never ends).
  std::string text;
  char buffer[1 << 16];
  while (text.size() <= kMaxJobFileBytes && in.read(buffer, sizeof(buffer)).gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
  }
  if (text.size() > kMaxJobFileBytes)
    return TooLarge(path, "more than " + std::to_string(kMaxJobFileBytes));
  if (in.bad()) {
    JobFile result;
    result.file = path;
    result.errors.push_back(
        Diagnostic{"", {}, std::string("cannot read the file: ") + std::strerror(errno)});
    return result;
  }
  return ParseJob(text, path);
}

}  // namespace trainctl::spec
