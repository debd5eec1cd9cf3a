#include "diagnostics.h"

#include <algorithm>

namespace trainctl::spec {

Position SourceMap::Find(const std::string& path) const {
  std::string p = path;
  while (true) {
    auto it = positions_.find(p);
    if (it != positions_.end()) return it->second;
    if (p.empty()) return {};
    // Drop the last component: "a.b[2]" -> "a.b", "a.b" -> "a", "a" -> "".
    std::size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? std::string() : p.substr(0, cut);
  }
}

std::string Diagnostic::Format(const std::string& file) const {
  std::string out = file;
  if (position.line > 0) {
    out += ":" + std::to_string(position.line) + ":" + std::to_string(position.column);
  }
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

void Diagnostics::Error(const std::string& path, std::string message) {
  ErrorAt(path, positions_ != nullptr ? positions_->Find(path) : Position{}, std::move(message));
}

void Diagnostics::ErrorAt(const std::string& path, Position position, std::string message) {
  errors_.push_back(Diagnostic{path, position, std::move(message)});
}

std::vector<Diagnostic> Diagnostics::Take() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.position.line < b.position.line;
  });
  return std::move(errors_);
}

}  // namespace trainctl::spec
