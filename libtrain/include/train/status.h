// Status and Result<T>: how every fallible call in libtrain reports failure.
//
// No exception crosses the public API. A Status carries a canonical code and a message that
// says what failed, with what value, and what to do about it. Result<T> is a T or a non-OK
// Status. Both are [[nodiscard]]: ignoring an error is a compile warning.
#ifndef TRAIN_STATUS_H_
#define TRAIN_STATUS_H_

#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace train {

// Canonical codes, with the meanings abseil and gRPC give them.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "INVALID_ARGUMENT" for kInvalidArgument, and so on.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "INVALID_ARGUMENT: spec.nodes.min: ..." or "OK".
  std::string ToString() const;

  // The same error with "context: " before its message (a no-op on OK), so callers can say
  // what they were doing without losing the callee's detail.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }
  friend bool operator!=(const Status& a, const Status& b) { return !(a == b); }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

Status CancelledError(std::string message);
Status UnknownError(std::string message);
Status InvalidArgumentError(std::string message);
Status DeadlineExceededError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status OutOfRangeError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);
Status UnauthenticatedError(std::string message);

namespace internal {
[[noreturn]] void DieOnBadResultAccess(const Status& status);
[[noreturn]] void DieOnCheckFailure(const char* file, int line, const std::string& what);
}  // namespace internal

// A value of type T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::decay_t<T>, Status>, "Result<Status> is meaningless");

 public:
  Result(const T& value) : value_(value) {}        // NOLINT: implicit by design
  Result(T&& value) : value_(std::move(value)) {}  // NOLINT
  Result(Status status)  // NOLINT: an OK Status holds no value, so it becomes an error
      : status_(status.ok() ? InternalError("Result constructed from an OK Status")
                            : std::move(status)) {}
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                                    !std::is_same_v<std::decay_t<U>, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Status>>>
  Result(U&& value) : value_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // Accessors abort with the status when there is no value: check ok() first.
  T& value() & {
    if (!ok()) internal::DieOnBadResultAccess(status_);
    return *value_;
  }
  const T& value() const& {
    if (!ok()) internal::DieOnBadResultAccess(status_);
    return *value_;
  }
  T&& value() && {
    if (!ok()) internal::DieOnBadResultAccess(status_);
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace train

#define TRAIN_STATUS_CONCAT_INNER_(a, b) a##b
#define TRAIN_STATUS_CONCAT_(a, b) TRAIN_STATUS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define TRAIN_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::train::Status train_status_ = (expr);        \
    if (!train_status_.ok()) return train_status_; \
  } while (false)

// `TRAIN_ASSIGN_OR_RETURN(auto x, Compute());` declares x from a Result, or returns its Status.
#define TRAIN_ASSIGN_OR_RETURN(lhs, expr) \
  TRAIN_ASSIGN_OR_RETURN_IMPL_(TRAIN_STATUS_CONCAT_(train_result_, __LINE__), lhs, expr)
#define TRAIN_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                                 \
  if (!result.ok()) return result.status();             \
  lhs = std::move(result).value()

// Invariant checks: a broken invariant is a bug, so it aborts and prints what it saw.
#define TRAIN_CHECK(cond)                                                         \
  do {                                                                            \
    if (!(cond)) ::train::internal::DieOnCheckFailure(__FILE__, __LINE__, #cond); \
  } while (false)

#define TRAIN_CHECK_OP_(a, b, op)                                                   \
  do {                                                                              \
    const auto& train_a_ = (a);                                                     \
    const auto& train_b_ = (b);                                                     \
    if (!(train_a_ op train_b_)) {                                                  \
      std::ostringstream train_os_;                                                 \
      train_os_ << #a " " #op " " #b " (" << train_a_ << " vs " << train_b_ << ")"; \
      ::train::internal::DieOnCheckFailure(__FILE__, __LINE__, train_os_.str());    \
    }                                                                               \
  } while (false)
#define TRAIN_CHECK_EQ(a, b) TRAIN_CHECK_OP_(a, b, ==)
#define TRAIN_CHECK_NE(a, b) TRAIN_CHECK_OP_(a, b, !=)
#define TRAIN_CHECK_LT(a, b) TRAIN_CHECK_OP_(a, b, <)
#define TRAIN_CHECK_LE(a, b) TRAIN_CHECK_OP_(a, b, <=)
#define TRAIN_CHECK_GT(a, b) TRAIN_CHECK_OP_(a, b, >)
#define TRAIN_CHECK_GE(a, b) TRAIN_CHECK_OP_(a, b, >=)

// A Status the caller must not drop; `TRAIN_CHECK_OK(status)` aborts with it when not OK.
#define TRAIN_CHECK_OK(expr)                                                         \
  do {                                                                               \
    const ::train::Status train_s_ = (expr);                                         \
    if (!train_s_.ok())                                                              \
      ::train::internal::DieOnCheckFailure(__FILE__, __LINE__, train_s_.ToString()); \
  } while (false)

#endif  // TRAIN_STATUS_H_
