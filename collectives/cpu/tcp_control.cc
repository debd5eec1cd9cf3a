#include "cpu/tcp_control.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace train::internal {
namespace {

constexpr std::size_t kMaxLine = 4096;

std::string_view NextWord(std::string_view* rest) {
  const std::size_t start = rest->find_first_not_of(' ');
  if (start == std::string_view::npos) {
    *rest = {};
    return {};
  }
  rest->remove_prefix(start);
  const std::size_t end = std::min(rest->find(' '), rest->size());
  std::string_view word = rest->substr(0, end);
  rest->remove_prefix(end);
  return word;
}

template <typename T>
bool ParseNumber(std::string_view text, T* value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool ParseRanks(std::string_view text, std::vector<int>* ranks) {
  while (!text.empty()) {
    const std::size_t comma = std::min(text.find(','), text.size());
    int rank = 0;
    if (!ParseNumber(text.substr(0, comma), &rank)) return false;
    ranks->push_back(rank);
    text.remove_prefix(std::min(comma + 1, text.size()));
  }
  return true;
}

}  // namespace

std::string EncodeControl(const ControlMessage& message) {
  using Kind = ControlMessage::Kind;
  std::string line;
  switch (message.kind) {
    case Kind::kQuery:
      line = "query " + std::to_string(message.op);
      break;
    case Kind::kHere:
      line = "here " + std::to_string(message.op);
      break;
    case Kind::kBye:
      line = "bye";
      break;
    case Kind::kStopTimeout:
      line = "stop timeout ";
      for (std::size_t i = 0; i < message.ranks.size(); ++i) {
        line += (i == 0 ? "" : ",") + std::to_string(message.ranks[i]);
      }
      break;
    case Kind::kStopLost:
    case Kind::kStopAborted: {
      line = message.kind == Kind::kStopLost ? "stop lost " : "stop aborted ";
      line += std::to_string(message.ranks.empty() ? -1 : message.ranks[0]);
      std::string detail = message.detail.substr(0, kMaxLine / 2);
      std::replace(detail.begin(), detail.end(), '\n', ' ');
      if (!detail.empty()) line += " " + detail;
      break;
    }
  }
  return line + "\n";
}

std::optional<ControlMessage> DecodeControl(std::string_view line) {
  using Kind = ControlMessage::Kind;
  ControlMessage message;
  std::string_view rest = line;
  const std::string_view word = NextWord(&rest);
  if (word == "bye") {
    message.kind = Kind::kBye;
    return message;
  }
  if (word == "query" || word == "here") {
    message.kind = word == "query" ? Kind::kQuery : Kind::kHere;
    if (!ParseNumber(NextWord(&rest), &message.op)) return std::nullopt;
    return message;
  }
  if (word != "stop") return std::nullopt;
  const std::string_view why = NextWord(&rest);
  if (why == "timeout") {
    message.kind = Kind::kStopTimeout;
    if (!ParseRanks(NextWord(&rest), &message.ranks)) return std::nullopt;
    return message;
  }
  if (why != "lost" && why != "aborted") return std::nullopt;
  message.kind = why == "lost" ? Kind::kStopLost : Kind::kStopAborted;
  int rank = 0;
  if (!ParseNumber(NextWord(&rest), &rank)) return std::nullopt;
  message.ranks.push_back(rank);
  const std::size_t start = rest.find_first_not_of(' ');
  if (start != std::string_view::npos) message.detail = std::string(rest.substr(start));
  return message;
}

ControlReader::Outcome ControlReader::ReadAvailable(int fd, int* err) {
  char buffer[1024];
  while (true) {
    const ssize_t got = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (got > 0) {
      pending_.append(buffer, static_cast<std::size_t>(got));
      // A peer that floods without newlines is not a member speaking this protocol.
      if (pending_.size() > 64 * kMaxLine) pending_.clear();
      continue;
    }
    if (got == 0) return Outcome::kClosed;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Outcome::kOpen;
    if (errno == ECONNRESET || errno == EPIPE) return Outcome::kClosed;
    *err = errno;
    return Outcome::kFailed;
  }
}

std::optional<std::string> ControlReader::NextLine() {
  const std::size_t end = pending_.find('\n');
  if (end == std::string::npos) return std::nullopt;
  std::string line = pending_.substr(0, end);
  pending_.erase(0, end + 1);
  return line;
}

}  // namespace train::internal
