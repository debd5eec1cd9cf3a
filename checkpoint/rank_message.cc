#include "rank_message.h"

#include <charconv>
#include <utility>

namespace train::internal {

RankMessage RankMessage::Ok(std::string payload) {
  return RankMessage{Kind::kOk, std::move(payload), Status::Ok()};
}

RankMessage RankMessage::ManifestPart(std::string json) {
  return RankMessage{Kind::kManifest, std::move(json), Status::Ok()};
}

RankMessage RankMessage::Error(const Status& status) {
  return RankMessage{Kind::kError, {}, status};
}

// "O<payload>", "M<json>", "E<code>:<message>".
std::string RankMessage::Encode() const {
  if (kind == Kind::kError) {
    return "E" + std::to_string(static_cast<int>(error.code())) + ":" + error.message();
  }
  return static_cast<char>(kind) + payload;
}

Result<RankMessage> RankMessage::Decode(const std::string& text, int rank) {
  const std::string from = "rank " + std::to_string(rank);
  const auto garbled = [&](const std::string& why) {
    return DataLossError("a checkpoint message from " + from + " is garbled (" + why +
                         "): the ranks run different libtrain builds, or memory is corrupt");
  };
  if (text.empty()) return garbled("empty");
  const std::string rest = text.substr(1);
  switch (text.front()) {
    case 'O':
      return Ok(rest);
    case 'M':
      return ManifestPart(rest);
    case 'E': {
      const std::size_t colon = rest.find(':');
      if (colon == std::string::npos) return garbled("an error without a status code");
      int code = 0;
      const auto [end, ec] = std::from_chars(rest.data(), rest.data() + colon, code);
      if (ec != std::errc() || end != rest.data() + colon ||
          code <= static_cast<int>(StatusCode::kOk) ||
          code > static_cast<int>(StatusCode::kUnauthenticated)) {
        return garbled("an error without a valid status code");
      }
      return Error(Status(static_cast<StatusCode>(code), from + ": " + rest.substr(colon + 1)));
    }
    default:
      return garbled("unknown kind '" + std::string(1, text.front()) + "'");
  }
}

}  // namespace train::internal
