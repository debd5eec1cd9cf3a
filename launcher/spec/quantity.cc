#include "quantity.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

namespace trainctl::spec {
namespace {

struct Suffix {
  std::string_view name;
  double factor;
};
constexpr Suffix kSuffixes[] = {{"", 1},
                                {"m", 1e-3},
                                {"k", 1e3},
                                {"M", 1e6},
                                {"G", 1e9},
                                {"T", 1e12},
                                {"P", 1e15},
                                {"E", 1e18},
                                {"Ki", 1024.0},
                                {"Mi", 1048576.0},
                                {"Gi", 1073741824.0},
                                {"Ti", 1099511627776.0},
                                {"Pi", 1125899906842624.0},
                                {"Ei", 1152921504606846976.0}};

train::Status InvalidQuantity(std::string_view text, std::string_view why) {
  return train::InvalidArgumentError(
      "invalid quantity \"" + std::string(text) + "\": " + std::string(why) +
      "; write a number with an optional suffix (m, k, M, G, T, Ki, Mi, Gi, Ti), e.g. 500m, 2, "
      "4Gi");
}

}  // namespace

train::Result<double> ParseQuantity(std::string_view text) {
  if (text.empty()) return InvalidQuantity(text, "it is empty");
  if (text.front() == '-') return InvalidQuantity(text, "it is negative");
  std::size_t i = text.front() == '+' ? 1 : 0;
  std::size_t digits_start = i;
  bool seen_dot = false;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) || (text[i] == '.' && !seen_dot))) {
    seen_dot |= text[i] == '.';
    ++i;
  }
  std::string number(text.substr(digits_start, i - digits_start));
  if (number.empty() || number == ".") {
    return InvalidQuantity(text, "it does not start with a number");
  }
  double value = 0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size()) {
    return InvalidQuantity(text, "\"" + number + "\" is too large a number");
  }
  // Finite or refused: an infinite quantity converts to nothing a Kubernetes field can hold.
  const auto finite = [&](double result) -> train::Result<double> {
    if (!std::isfinite(result)) return InvalidQuantity(text, "it is too large");
    return result;
  };
  std::string_view rest = text.substr(i);
  if (!rest.empty() && (rest[0] == 'e' || rest[0] == 'E') && rest.size() > 1) {
    std::string_view exponent = rest.substr(1);
    if (exponent.front() == '+') exponent.remove_prefix(1);
    int e = 0;
    const auto [exp_end, exp_error] =
        std::from_chars(exponent.data(), exponent.data() + exponent.size(), e);
    if (!exponent.empty() && exp_end == exponent.data() + exponent.size()) {
      if (exp_error == std::errc::result_out_of_range)
        return InvalidQuantity(text, "its exponent is too large");
      if (exp_error == std::errc()) return finite(value * std::pow(10.0, e));
    }
  }
  for (const Suffix& s : kSuffixes) {
    if (s.name == rest) return finite(value * s.factor);
  }
  std::string why = "unknown suffix \"" + std::string(rest) + "\"";
  if (rest.size() == 2 && (rest[1] == 'B' || rest[1] == 'b')) {
    std::string upper(1, static_cast<char>(std::toupper(static_cast<unsigned char>(rest[0]))));
    why += " (did you mean " + upper + "i or " + upper + "?)";
  }
  return InvalidQuantity(text, why);
}

}  // namespace trainctl::spec
