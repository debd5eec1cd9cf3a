// What the ranks of a save or a load tell each other through the group's all-gather and
// broadcast: a typed message (a verdict, a manifest part, or an error that keeps its status
// code), never a bare string whose first letter means something. Decoding never throws: a
// message that does not decode is DATA_LOSS naming the rank it came from.
#ifndef TRAIN_CHECKPOINT_RANK_MESSAGE_H_
#define TRAIN_CHECKPOINT_RANK_MESSAGE_H_

#include <string>

#include "train/status.h"

namespace train::internal {

struct RankMessage {
  enum class Kind : char {
    kOk = 'O',        // payload: what the sender decided (a directory id, a list of steps)
    kManifest = 'M',  // payload: the sender's part of the manifest (JSON)
    kError = 'E',     // the sender failed: `error`, its code kept
  };
  Kind kind = Kind::kOk;
  std::string payload;
  Status error;

  static RankMessage Ok(std::string payload = {});
  static RankMessage ManifestPart(std::string json);
  static RankMessage Error(const Status& status);

  std::string Encode() const;
  // `rank` is the sender, for messages: an error comes back as "rank 3: <its message>".
  static Result<RankMessage> Decode(const std::string& text, int rank);
};

}  // namespace train::internal

#endif  // TRAIN_CHECKPOINT_RANK_MESSAGE_H_
