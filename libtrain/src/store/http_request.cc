#include "store/http_request.h"

#include <algorithm>
#include <cctype>

namespace train::internal {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9110 tchar: the characters of a method or a header name.
bool IsTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), IsTokenChar);
}

// Field values: visible characters, spaces, tabs and bytes >= 0x80; never CR, LF or NUL.
bool IsFieldValue(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || u >= 0x20 ? u != 0x7f : false;
  });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

HttpHeadParse Error(int status, std::string message) {
  HttpHeadParse out;
  out.state = HttpHeadParse::State::kError;
  out.error = {status, std::move(message)};
  return out;
}

// A decimal Content-Length of at most 18 digits (so it fits with room to spare).
std::optional<std::uint64_t> ParseLength(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

// Calls `each` with every comma-separated, trimmed item of a header value.
template <typename Fn>
void ForEachItem(std::string_view value, Fn each) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    each(Trim(value.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

std::optional<std::string_view> HttpRequestHead::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

namespace {

// Fills the method, target and version; false with `error` set when the line is not one.
bool ReadRequestLine(std::string_view line, HttpRequestHead& head, HttpError& error) {
  const std::size_t first = line.find(' ');
  const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    error = {400, "the request line is not \"METHOD TARGET HTTP/1.1\""};
    return false;
  }
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (!IsToken(method)) {
    error = {400, "the request's method is not an HTTP token"};
    return false;
  }
  const bool visible = !target.empty() && std::all_of(target.begin(), target.end(),
                                                      [](char c) { return c > 0x20 && c < 0x7f; });
  if (!visible) {
    error = {400, "the request's target is empty or holds characters URLs cannot"};
    return false;
  }
  if (version == "HTTP/1.1" || version == "HTTP/1.0") {
    head.minor_version = version.back() - '0';
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
             std::isdigit(static_cast<unsigned char>(version[5])) && version[6] == '.' &&
             std::isdigit(static_cast<unsigned char>(version[7]))) {
    error = {505, "the store speaks HTTP/1.1 (and 1.0), not " + std::string(version)};
    return false;
  } else {
    error = {400, "the request line does not end with an HTTP version"};
    return false;
  }
  head.method = std::string(method);
  head.target = std::string(target);
  return true;
}

// Applies the headers the server acts on; false with `error` set when they contradict.
bool ReadFraming(HttpRequestHead& head, HttpError& error) {
  head.keep_alive = head.minor_version >= 1;
  for (const auto& [name, value] : head.headers) {
    if (EqualsIgnoreCase(name, "Content-Length")) {
      const std::optional<std::uint64_t> length = ParseLength(value);
      if (!length || (head.content_length && *head.content_length != *length)) {
        error = {400, "the request's Content-Length is not one decimal number of bytes"};
        return false;
      }
      head.content_length = length;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      head.chunked = true;
    } else if (EqualsIgnoreCase(name, "Connection")) {
      ForEachItem(value, [&head](std::string_view item) {
        if (EqualsIgnoreCase(item, "close")) head.keep_alive = false;
        if (EqualsIgnoreCase(item, "keep-alive") && head.minor_version == 0) {
          head.keep_alive = true;
        }
      });
    }
  }
  if (head.chunked && head.content_length) {
    // Two framings disagree on where the body ends: the way requests are smuggled.
    error = {400, "the request has both Transfer-Encoding and Content-Length"};
    return false;
  }
  // "Connection: close" anywhere wins over a keep-alive given earlier.
  for (const auto& [name, value] : head.headers) {
    if (!EqualsIgnoreCase(name, "Connection")) continue;
    ForEachItem(value, [&head](std::string_view item) {
      if (EqualsIgnoreCase(item, "close")) head.keep_alive = false;
    });
  }
  return true;
}

}  // namespace

HttpHeadParse ParseRequestHead(std::string_view buffer, std::size_t max_head_bytes) {
  const std::string_view window = buffer.substr(0, max_head_bytes);
  std::size_t start = 0;
  while (window.substr(start, kCrlf.size()) == kCrlf) start += kCrlf.size();
  const std::size_t end = window.find("\r\n\r\n", start);
  if (end == std::string_view::npos) {
    if (buffer.size() >= max_head_bytes) {
      return Error(431, "the request head is over " + std::to_string(max_head_bytes) +
                            " bytes (the store's limit) or never ends");
    }
    return {};
  }

  HttpHeadParse out;
  HttpRequestHead& head = out.head;
  std::string_view rest = window.substr(start, end - start + kCrlf.size());
  bool first = true;
  while (!rest.empty()) {
    const std::size_t eol = rest.find(kCrlf);
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + kCrlf.size());
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
      return Error(400, "the request head has a bare CR or LF inside a line");
    }
    if (first) {
      first = false;
      if (!ReadRequestLine(line, head, out.error))
        return Error(out.error.status, out.error.message);
      continue;
    }
    if (line.empty() || line.front() == ' ' || line.front() == '\t') {
      return Error(400, "the request folds a header over several lines (obsolete, refused)");
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Error(400, "a request header line is not \"Name: value\"");
    }
    const std::string_view value = Trim(line.substr(colon + 1));
    if (!IsFieldValue(value)) {
      return Error(400, "a request header's value holds control characters");
    }
    if (head.headers.size() == kMaxHeaderCount) {
      return Error(431, "the request has over " + std::to_string(kMaxHeaderCount) + " headers");
    }
    head.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  if (!ReadFraming(head, out.error)) return Error(out.error.status, out.error.message);
  out.state = HttpHeadParse::State::kComplete;
  out.head_bytes = end + 4;
  return out;
}

std::string_view HttpReason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

std::string FormatResponseHead(int status, std::size_t body_bytes, bool keep_alive) {
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(HttpReason(status)) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body_bytes) +
      "\r\n";
  if (status == 401) head += "WWW-Authenticate: Bearer\r\n";
  head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return head;
}

}  // namespace train::internal
