// Finding a free TCP port for a server asked to listen on port 0.
#ifndef TRAIN_SRC_STORE_FREE_PORT_H_
#define TRAIN_SRC_STORE_FREE_PORT_H_

#include <string>

#include "train/status.h"

namespace train::internal {

// A port that was free on `host` a moment ago: binds a socket to port 0, reads the port the
// kernel chose, and closes it. Another process may take it before the caller binds, so the
// caller retries on "address in use". Errors name the host (unresolvable, not local).
Result<int> PickFreePort(const std::string& host);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_FREE_PORT_H_
