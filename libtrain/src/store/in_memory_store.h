// The in-memory store over a StoreState (ranks as threads; what the server serves).
#ifndef TRAIN_SRC_STORE_IN_MEMORY_STORE_H_
#define TRAIN_SRC_STORE_IN_MEMORY_STORE_H_

#include <memory>

#include "store/store_state.h"
#include "train/store.h"

namespace train::internal {

// A store over `state`, which it shares: tests pass a state with a fake clock.
std::unique_ptr<Store> NewInMemoryStore(std::shared_ptr<StoreState> state);

}  // namespace train::internal

#endif  // TRAIN_SRC_STORE_IN_MEMORY_STORE_H_
