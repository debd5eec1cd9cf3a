#include "manifest_node.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace trainctl::k8s {

Node Node::Str(std::string value) {
  Node node(Kind::kString);
  node.scalar_ = std::move(value);
  return node;
}

Node Node::Int(std::int64_t value) {
  Node node(Kind::kInt);
  node.scalar_ = std::to_string(value);
  return node;
}

Node Node::Bool(bool value) {
  Node node(Kind::kBool);
  node.scalar_ = value ? "true" : "false";
  return node;
}

Node& Node::Set(const std::string& key, Node value) {
  for (auto& entry : entries_) {
    if (entry.first == key) {
      entry.second = std::move(value);
      return *this;
    }
  }
  entries_.emplace_back(key, std::move(value));
  return *this;
}

Node& Node::Add(Node value) {
  items_.push_back(std::move(value));
  return *this;
}

namespace {

std::string Lower(const std::string& s) {
  std::string out = s;
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// YAML 1.1 readers (PyYAML, yaml-cpp, Go's yaml.v2) turn these into booleans or null.
bool LooksLikeBoolOrNull(const std::string& s) {
  static const char* const kWords[] = {"y",  "yes", "n",    "no", "true", "false",
                                       "on", "off", "null", "~",  ""};
  const std::string lower = Lower(s);
  for (const char* word : kWords) {
    if (lower == word) return true;
  }
  return false;
}

bool IsPlainChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
         c == '-' || c == '@' || c == '+' || c == '=' || c == ':';
}

// Plain (unquoted) only when no YAML reader could take it for a number, a boolean, null, or
// syntax: a conservative character set, no leading digit, sign or dot, no trailing colon.
bool CanBePlain(const std::string& s) {
  if (s.empty() || LooksLikeBoolOrNull(s)) return false;
  const unsigned char first = static_cast<unsigned char>(s.front());
  if (!(std::isalpha(first) || first == '/' || first == '_')) return false;
  if (s.back() == ':') return false;
  return std::all_of(s.begin(), s.end(), IsPlainChar);
}

std::string DoubleQuoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\x%02x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// A literal block (`|`) keeps multi-line text readable; it fits text that ends with exactly
// one newline, has no other control characters, and does not start with a space.
bool FitsLiteralBlock(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n') return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f;
  });
}

std::string Scalar(const Node& node) {
  if (node.kind() != Node::Kind::kString) return node.scalar();
  return CanBePlain(node.scalar()) ? node.scalar() : DoubleQuoted(node.scalar());
}

bool IsScalar(const Node& node) {
  return node.kind() != Node::Kind::kMap && node.kind() != Node::Kind::kList;
}

void EmitMap(const Node& map, int indent, bool first_inline, std::string* out);
void EmitList(const Node& list, int indent, std::string* out);

// The value after "key:" (or after "- "), including its newline.
void EmitValue(const Node& value, int indent, std::string* out) {
  if (value.kind() == Node::Kind::kString && value.scalar().find('\n') != std::string::npos &&
      FitsLiteralBlock(value.scalar())) {
    *out += " |\n";
    const std::string& text = value.scalar();
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      std::string line = text.substr(start, end - start);
      if (!line.empty()) *out += std::string(indent + 2, ' ') + line;
      *out += "\n";
      start = end + 1;
    }
  } else if (IsScalar(value)) {
    *out += " " + Scalar(value) + "\n";
  } else if (value.empty()) {
    *out += value.kind() == Node::Kind::kMap ? " {}\n" : " []\n";
  } else if (value.kind() == Node::Kind::kMap) {
    *out += "\n";
    EmitMap(value, indent + 2, false, out);
  } else {
    *out += "\n";
    EmitList(value, indent + 2, out);
  }
}

void EmitMap(const Node& map, int indent, bool first_inline, std::string* out) {
  bool first = true;
  for (const auto& [key, value] : map.entries()) {
    if (!(first && first_inline)) *out += std::string(indent, ' ');
    first = false;
    *out += Scalar(Node::Str(key)) + ":";
    EmitValue(value, indent, out);
  }
}

void EmitList(const Node& list, int indent, std::string* out) {
  for (const Node& item : list.items()) {
    *out += std::string(indent, ' ') + "-";
    if (item.kind() == Node::Kind::kMap && !item.empty()) {
      *out += " ";
      EmitMap(item, indent + 2, true, out);
    } else {
      EmitValue(item, indent, out);
    }
  }
}

}  // namespace

std::string ToYaml(const Node& document) {
  std::string out;
  if (document.kind() == Node::Kind::kMap && !document.empty()) {
    EmitMap(document, 0, false, &out);
  } else if (document.kind() == Node::Kind::kList && !document.empty()) {
    EmitList(document, 0, &out);
  } else {
    EmitValue(document, 0, &out);
    out.erase(0, 1);  // the space that follows a key
  }
  return out;
}

}  // namespace trainctl::k8s
