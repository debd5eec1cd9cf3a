#include "names.h"

#include <cctype>

namespace trainctl::spec {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::string CheckDns1123Label(std::string_view text) {
  if (text.empty()) return "it is empty";
  if (text.size() > 63) return "it is longer than 63 characters";
  for (char c : text) {
    if (!IsLowerAlnum(c) && c != '-') {
      return "it may hold only lowercase letters, digits and '-' (found '" + std::string(1, c) +
             "')";
    }
  }
  if (!IsLowerAlnum(text.front()) || !IsLowerAlnum(text.back())) {
    return "it must start and end with a lowercase letter or digit";
  }
  return "";
}

std::string CheckDns1123Subdomain(std::string_view text) {
  if (text.empty()) return "it is empty";
  if (text.size() > 253) return "it is longer than 253 characters";
  std::size_t start = 0;
  while (true) {
    std::size_t dot = text.find('.', start);
    std::string why = CheckDns1123Label(text.substr(start, dot - start));
    if (!why.empty())
      return "part \"" + std::string(text.substr(start, dot - start)) + "\": " + why;
    if (dot == std::string_view::npos) return "";
    start = dot + 1;
  }
}

std::string CheckLabelValue(std::string_view text) {
  if (text.empty()) return "";
  if (text.size() > 63) return "it is longer than 63 characters";
  for (char c : text) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') {
      return "it may hold only letters, digits, '-', '_' and '.' (found '" + std::string(1, c) +
             "')";
    }
  }
  if (!IsAlnum(text.front()) || !IsAlnum(text.back())) {
    return "it must start and end with a letter or digit";
  }
  return "";
}

std::string CheckLabelKey(std::string_view text) {
  std::size_t slash = text.find('/');
  std::string_view name = text;
  if (slash != std::string_view::npos) {
    std::string why = CheckDns1123Subdomain(text.substr(0, slash));
    if (!why.empty()) return "its prefix is not a DNS subdomain: " + why;
    name = text.substr(slash + 1);
  }
  if (name.empty()) return "the name part is empty";
  return CheckLabelValue(name);
}

std::string CheckEnvName(std::string_view text) {
  if (text.empty()) return "it is empty";
  if (std::isdigit(static_cast<unsigned char>(text.front()))) return "it starts with a digit";
  for (char c : text) {
    if (!IsAlnum(c) && c != '_') {
      return "it may hold only letters, digits and '_' (found '" + std::string(1, c) + "')";
    }
  }
  return "";
}

}  // namespace trainctl::spec
