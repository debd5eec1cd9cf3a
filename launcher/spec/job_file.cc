#include "job_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "defaults.h"
#include "validate.h"
#include "yaml_decoder.h"

namespace trainctl::spec {

std::string JobFile::FormatErrors() const {
  std::string out;
  for (const Diagnostic& d : errors) out += d.Format(file) + "\n";
  return out;
}

JobFile ParseJob(std::string_view text, std::string file) {
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
  for (Diagnostic& d : semantic.Take()) {
    bool covered = false;
    for (const Diagnostic& e : decode_errors) {
      covered |= !e.path.empty() && d.path.rfind(e.path, 0) == 0;
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
  std::ostringstream text;
  text << in.rdbuf();
  return ParseJob(text.str(), path);
}

}  // namespace trainctl::spec
