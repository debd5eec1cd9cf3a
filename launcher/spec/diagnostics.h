// Errors found in a spec file, each pointing at the field path and the line:column it came from.
#ifndef TRAINCTL_SPEC_DIAGNOSTICS_H_
#define TRAINCTL_SPEC_DIAGNOSTICS_H_

#include <map>
#include <string>
#include <vector>

namespace trainctl::spec {

// 1-based line and column in the spec file; 0 when unknown (a field filled by a default).
struct Position {
  int line = 0;
  int column = 0;
};

// Where each field path ("spec.nodes.min", "spec.env[0].name") was written in the file.
class SourceMap {
 public:
  void Record(const std::string& path, Position position) { positions_[path] = position; }

  // The position of `path`, or of its nearest ancestor that was written (a field filled by a
  // default points at the block it belongs to).
  Position Find(const std::string& path) const;

 private:
  std::map<std::string, Position> positions_;
};

struct Diagnostic {
  std::string path;  // field path, "" for the whole document
  Position position;
  std::string message;  // says the bad value and what would be valid

  // "job.yaml:12:5: spec.nodes.min: ..." in the style of compilers, so editors can jump to it.
  std::string Format(const std::string& file) const;
};

// Collects every error of a document: users see all of them at once, not one per run.
class Diagnostics {
 public:
  explicit Diagnostics(const SourceMap* positions) : positions_(positions) {}

  // An error at `path`, positioned where that field (or its nearest ancestor) was written.
  void Error(const std::string& path, std::string message);
  // An error at an explicit position (YAML syntax errors, keys that match no field).
  void ErrorAt(const std::string& path, Position position, std::string message);

  bool empty() const { return errors_.empty(); }
  // The errors in file order, so the output reads top to bottom like the file.
  std::vector<Diagnostic> Take();

 private:
  const SourceMap* positions_;
  std::vector<Diagnostic> errors_;
};

}  // namespace trainctl::spec

#endif  // TRAINCTL_SPEC_DIAGNOSTICS_H_
