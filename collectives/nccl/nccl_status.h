// NCCL and CUDA return codes as train::Status, with the call, file:line and NCCL's own words.
#ifndef TRAIN_COLLECTIVES_NCCL_NCCL_STATUS_H_
#define TRAIN_COLLECTIVES_NCCL_NCCL_STATUS_H_

#include <nccl.h>

#include "cuda/cuda_status.h"
#include "train/status.h"

namespace train::internal {

// "<call> failed at file:line: <ncclGetErrorString> (<ncclGetLastError>)". UNAVAILABLE when a
// peer or the network failed (ncclRemoteError, ncclSystemError), INTERNAL otherwise.
Status NcclError(ncclResult_t result, const char* call, const char* file, int line,
                 ncclComm_t comm);

}  // namespace train::internal

// For NCCL calls that must succeed at once (not ncclInProgress).
#define TRAIN_NCCL_RETURN_IF_ERROR(call, comm)                                                    \
  do {                                                                                            \
    ncclResult_t train_nccl_result_ = (call);                                                     \
    if (train_nccl_result_ != ncclSuccess) {                                                      \
      return ::train::internal::NcclError(train_nccl_result_, #call, __FILE__, __LINE__, (comm)); \
    }                                                                                             \
  } while (false)

#endif  // TRAIN_COLLECTIVES_NCCL_NCCL_STATUS_H_
