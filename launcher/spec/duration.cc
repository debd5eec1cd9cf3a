#include "duration.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace trainctl::spec {
namespace {

constexpr std::string_view kExample = "use a number and a unit, e.g. 500ms, 2s, 10m, 1h30m";

// Nanoseconds per unit, longest unit names first so that "ms" wins over "m".
struct Unit {
  std::string_view name;
  double nanos;
};
constexpr Unit kUnits[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
                           {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};

train::Status InvalidDuration(std::string_view text, std::string_view why) {
  return train::InvalidArgumentError("invalid duration \"" + std::string(text) +
                                     "\": " + std::string(why) + "; " + std::string(kExample));
}

}  // namespace

train::Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return InvalidDuration(text, "it is empty");
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.front() == '-') return InvalidDuration(text, "it is negative");
  double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    bool seen_dot = false;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || (text[i] == '.' && !seen_dot))) {
      seen_dot |= text[i] == '.';
      ++i;
    }
    std::string number(text.substr(start, i - start));
    if (number.empty() || number == ".") return InvalidDuration(text, "expected a number");
    std::size_t unit_start = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) &&
           text[i] != '.') {
      ++i;
    }
    std::string_view unit_name = text.substr(unit_start, i - unit_start);
    if (unit_name.empty()) return InvalidDuration(text, "\"" + number + "\" has no unit");
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit_name) unit = &u;
    }
    if (unit == nullptr) {
      return InvalidDuration(text, "unknown unit \"" + std::string(unit_name) + "\"");
    }
    double value = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (error != std::errc() || end != number.data() + number.size()) {
      return InvalidDuration(text, "\"" + number + "\" is too large");
    }
    total += value * unit->nanos;
  }
  if (!(total < static_cast<double>(std::numeric_limits<std::int64_t>::max()))) {
    return InvalidDuration(text, "it is too long (more than 292 years)");
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total)));
}

std::chrono::milliseconds ValidatedMillis(std::string_view text) {
  auto parsed = ParseDuration(text);
  return parsed.ok() ? std::chrono::duration_cast<std::chrono::milliseconds>(*parsed)
                     : std::chrono::milliseconds(0);
}

std::string FormatDuration(std::chrono::nanoseconds duration) {
  std::int64_t ns = duration.count();
  if (ns == 0) return "0s";
  if (ns % 1000000 != 0 || ns < 1000000000) {
    // Sub-second precision: the smallest unit that is exact.
    if (ns % 1000000 == 0) return std::to_string(ns / 1000000) + "ms";
    if (ns % 1000 == 0) return std::to_string(ns / 1000) + "us";
    return std::to_string(ns) + "ns";
  }
  std::int64_t ms = ns / 1000000;
  std::string out;
  std::int64_t hours = ms / 3600000;
  std::int64_t minutes = (ms / 60000) % 60;
  std::int64_t millis = ms % 60000;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (minutes > 0) out += std::to_string(minutes) + "m";
  if (millis > 0) {
    if (millis % 1000 == 0) {
      out += std::to_string(millis / 1000) + "s";
    } else {
      std::string frac = std::to_string(millis % 1000);
      frac.insert(0, 3 - frac.size(), '0');
      while (frac.back() == '0') frac.pop_back();
      out += std::to_string(millis / 1000) + "." + frac + "s";
    }
  }
  return out;
}

}  // namespace trainctl::spec
