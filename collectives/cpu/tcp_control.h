// The notices members of a TCP group send each other on their control connections, one text
// line each: "query 12" (are you in op 12?), "here 12" (I am in op 12), and the reason an op
// stopped ("stop timeout 3,5", "stop lost 2 closed its connection ...", "stop aborted 4"), and
// "bye" from a member that shuts its group down.
#ifndef TRAIN_COLLECTIVES_CPU_TCP_CONTROL_H_
#define TRAIN_COLLECTIVES_CPU_TCP_CONTROL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace train::internal {

struct ControlMessage {
  enum class Kind {
    kQuery,        // op: the op the sender is stuck in
    kHere,         // op: the op the sender is in now
    kStopTimeout,  // ranks: the ranks the sender's op waited for when it expired
    kStopLost,     // ranks[0]: the rank that is gone; detail: how it was noticed
    kStopAborted,  // ranks[0]: the rank that aborted
    kBye,          // the sender shut its group down (its connections close next)
  };
  Kind kind = Kind::kQuery;
  std::uint64_t op = 0;
  std::vector<int> ranks;
  std::string detail;
};

// The line for `message`, '\n' included (newlines in the detail become spaces).
std::string EncodeControl(const ControlMessage& message);
// Parses one line (without its '\n'); nullopt when it is not a notice.
std::optional<ControlMessage> DecodeControl(std::string_view line);

// Collects the bytes of one control connection and cuts them into lines.
class ControlReader {
 public:
  enum class Outcome { kOpen, kClosed, kFailed };
  // Reads what the socket holds without waiting. kClosed: the peer closed its end (or reset
  // it); kFailed: another error, in *err.
  Outcome ReadAvailable(int fd, int* err);
  // The next complete line, if any.
  std::optional<std::string> NextLine();

 private:
  std::string pending_;
};

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_TCP_CONTROL_H_
