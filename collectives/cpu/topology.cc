#include "cpu/topology.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>

namespace train::internal {
namespace {

std::string FirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string LinkTarget(const char* path) {
  char target[256] = {};
  const ssize_t n = readlink(path, target, sizeof(target) - 1);
  return n > 0 ? std::string(target, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

bool Topology::Uniform() const {
  for (const auto& ranks : hosts) {
    if (ranks.size() != hosts.front().size()) return false;
  }
  return true;
}

std::string DetectHostIdentity() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  std::string identity = name;
  identity += "/" + FirstLine("/proc/sys/kernel/random/boot_id");
  identity += "/" + LinkTarget("/proc/self/ns/ipc");
  struct stat shm {};
  if (stat("/dev/shm", &shm) == 0) {
    identity += "/" + std::to_string(shm.st_dev) + ":" + std::to_string(shm.st_ino);
  }
  return identity;
}

Result<Topology> DiscoverTopology(Store* store, const std::string& prefix, int rank, int world_size,
                                  const std::string& identity, Milliseconds timeout) {
  Topology topology;
  if (world_size == 1) {
    topology.hosts = {{0}};
    return topology;
  }
  if (store == nullptr) return FailedPreconditionError("a world of several ranks needs a store");
  TRAIN_RETURN_IF_ERROR(store->Set(prefix + std::to_string(rank), identity));
  std::vector<std::string> keys;
  for (int r = 0; r < world_size; ++r) keys.push_back(prefix + std::to_string(r));
  TRAIN_RETURN_IF_ERROR(
      store->Wait(keys, timeout).WithContext("waiting for every rank to join the communicator"));
  TRAIN_ASSIGN_OR_RETURN(auto identities, store->MultiGet(keys));
  std::map<std::string, int> host_of;
  for (int r = 0; r < world_size; ++r) {
    const std::string id = identities[r].value_or("");
    auto [it, added] = host_of.emplace(id, static_cast<int>(topology.hosts.size()));
    if (added) topology.hosts.emplace_back();
    topology.hosts[it->second].push_back(r);
    if (r == rank) {
      topology.host = it->second;
      topology.local = static_cast<int>(topology.hosts[it->second].size()) - 1;
    }
  }
  return topology;
}

}  // namespace train::internal
