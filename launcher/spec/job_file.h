// Loading a TrainingJob file: parse (YAML or JSON), fill defaults, validate, collect every error.
#ifndef TRAINCTL_SPEC_JOB_FILE_H_
#define TRAINCTL_SPEC_JOB_FILE_H_

#include <string>
#include <string_view>
#include <vector>

#include "diagnostics.h"
#include "launcher/spec/trainingjob.pb.h"

namespace trainctl::spec {

// The largest spec file read: a TrainingJob is a few KiB; anything larger is refused before it
// is parsed (a device or a pipe is read no further than this).
inline constexpr size_t kMaxJobFileBytes = size_t{4} << 20;

struct JobFile {
  std::string file;                     // the name errors are reported under
  trainctl::v1alpha1::TrainingJob job;  // with every default filled in
  SourceMap positions;                  // where each field was written
  std::vector<Diagnostic> errors;       // empty when the job is valid

  bool ok() const { return errors.empty(); }
  // One "file:line:col: path: message" line per error.
  std::string FormatErrors() const;
};

// Parses `text` as the contents of `file`; text over kMaxJobFileBytes is one error. The
// loader's other bounds are in yaml_decoder.h.
JobFile ParseJob(std::string_view text, std::string file);

// Reads and parses the file at `path`; an unreadable file, or one over kMaxJobFileBytes, is
// reported as an error too.
JobFile LoadJobFile(const std::string& path);

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_JOB_FILE_H_
