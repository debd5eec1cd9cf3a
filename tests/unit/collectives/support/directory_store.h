// A Store kept in a directory, one file per key: what forked member processes meet through.
// It needs no thread and no server, so a child can use it right after fork().
#ifndef TRAIN_TESTS_COLLECTIVES_SUPPORT_DIRECTORY_STORE_H_
#define TRAIN_TESTS_COLLECTIVES_SUPPORT_DIRECTORY_STORE_H_

#include <memory>
#include <string>

#include "train/store.h"

namespace train::testing {

// Keys are files under `directory` (which must exist); values are written to a temporary file
// and renamed into place, so a reader sees all of a value or none. Add and CompareSet hold an
// flock on the directory's lock file. Waits poll every few milliseconds. TTLs are ignored.
std::unique_ptr<Store> NewDirectoryStore(const std::string& directory);

}  // namespace train::testing

#endif  // TRAIN_TESTS_COLLECTIVES_SUPPORT_DIRECTORY_STORE_H_
