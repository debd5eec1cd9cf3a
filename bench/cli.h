// The benchmarks' command lines (CLI11): checks for whole numbers, and one way to parse, report
// bad flags and exit.
#ifndef BENCH_CLI_H_
#define BENCH_CLI_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <limits>
#include <optional>
#include <ostream>

namespace bench {

// Exit code for bad flags.
inline constexpr int kExitUsage = 2;

// Whole numbers of T from 1 (Positive) or 0 (NonNegative) up. CLI::PositiveNumber and
// CLI::NonNegativeNumber check doubles, and their errors print a double's bounds.
template <typename T>
CLI::Range Positive() {
  return CLI::Range(T{1}, std::numeric_limits<T>::max(), "POSITIVE");
}
template <typename T>
CLI::Range NonNegative() {
  return CLI::Range(T{0}, std::numeric_limits<T>::max(), "NONNEGATIVE");
}

// Parses argv with `app`, then runs `finish`, which reads options' strings with the
// benchmark's own parsers and throws CLI::ValidationError for a value they reject. An option
// given twice takes the last value. Returns the exit code to stop with, or nullopt to go on: 0
// after --help; kExitUsage for bad flags, after printing the program's name, what was wrong
// (the flag and its value) and a pointer to --help. With `print` false it prints nothing.
inline std::optional<int> ParseCommandLine(CLI::App& app, int argc, const char* const* argv,
                                           const std::function<void()>& finish = nullptr,
                                           bool print = true) {
  for (CLI::Option* option : app.get_options()) option->take_last();
  app.failure_message([](const CLI::App* failed, const CLI::Error& e) {
    return failed->get_name() + ": " + CLI::FailureMessage::simple(failed, e);
  });
  try {
    app.parse(argc, argv);
    if (finish) finish();
  } catch (const CLI::ParseError& e) {
    std::ostream nowhere(nullptr);
    const int code = print ? app.exit(e) : app.exit(e, nowhere, nowhere);
    return code == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

}  // namespace bench

#endif  // BENCH_CLI_H_
