// The HTTP/1.1 request head the store server accepts, parsed from a buffer without sockets.
//
// The parser is a pure function of the bytes received so far: the server calls it after each
// read, and the fuzz target calls it on arbitrary bytes. It never looks past `max_head_bytes`,
// so a client that never ends its head costs the server at most that much.
#ifndef TRAIN_SRC_STORE_HTTP_REQUEST_H_
#define TRAIN_SRC_STORE_HTTP_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace train::internal {

struct HttpRequestHead {
  std::string method;  // as sent: "POST", "TRACE", ...
  std::string target;  // "/v1/set"
  int minor_version = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // in order, values trimmed
  std::optional<std::uint64_t> content_length;
  bool chunked = false;    // any Transfer-Encoding: the body's length is not known up front
  bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only if asked

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// A response to a request that cannot be served; the connection closes after it.
struct HttpError {
  int status = 400;
  std::string message;
  // How much of the body the server may read and drop before it closes, so that a client
  // that writes its whole request before reading hears the answer (a trusted client whose
  // value is too large). Else a little, for a moment.
  std::size_t drain_bytes = 0;
};

struct HttpHeadParse {
  enum class State { kIncomplete, kComplete, kError };
  State state = State::kIncomplete;
  std::size_t head_bytes = 0;  // kComplete: bytes of the buffer the head took (body follows)
  HttpRequestHead head;        // kComplete
  HttpError error;             // kError
};

inline constexpr std::size_t kMaxHeaderCount = 100;

// Parses the request head at the start of `buffer`. kIncomplete while the blank line that ends
// the head has not arrived within the first `max_head_bytes`; kError (431) once the buffer
// holds that many bytes without it, and for a malformed head (400), an HTTP version other than
// 1.0 or 1.1 (505), or a Content-Length that is not one decimal number (400). Empty lines
// before the request line are skipped, as RFC 9112 allows.
HttpHeadParse ParseRequestHead(std::string_view buffer, std::size_t max_head_bytes);

// The reason phrase of an HTTP status ("Not Found"); "Error" for codes it does not know.
std::string_view HttpReason(int status);

// The status line and headers of a response with a JSON body of `body_bytes` bytes.
std::string FormatResponseHead(int status, std::size_t body_bytes, bool keep_alive);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_HTTP_REQUEST_H_
