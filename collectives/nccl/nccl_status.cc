#include "nccl/nccl_status.h"

#include <string>

namespace train::internal {

Status NcclError(ncclResult_t result, const char* call, const char* file, int line,
                 ncclComm_t comm) {
  std::string what = std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                     ncclGetErrorString(result);
  const char* last = ncclGetLastError(comm);
  if (last != nullptr && *last != '\0') what += " (" + std::string(last) + ")";
  if (result == ncclRemoteError || result == ncclSystemError) {
    return UnavailableError(what + "; a peer rank or the network failed");
  }
  return InternalError(what);
}

}  // namespace train::internal
