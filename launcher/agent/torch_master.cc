#include "torch_master.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace trainctl::agent {
namespace {

constexpr char kTorchMasterKey[] = "torch_master";

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The IPv4 address of this host's interface that routes to the store: one the other nodes can
// reach (a pod's short host name often does not resolve elsewhere). Empty when unknown.
std::string AddressTowards(const train::StoreAddress& store) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(store.port);
  if (getaddrinfo(store.host.c_str(), port.c_str(), &hints, &found) != 0) return "";
  std::string address;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  socklen_t len = sizeof(local);
  char text[INET_ADDRSTRLEN] = {};
  // Connecting a UDP socket sends nothing; it only picks the route and the source address.
  if (fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 &&
      inet_ntop(AF_INET, &local.sin_addr, text, sizeof(text)) != nullptr) {
    address = text;
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(found);
  return address;
}

// Where the other nodes reach node 0: loopback for a job on one machine, else the address of
// the interface towards the store, else the host name.
std::string MasterHost(const train::StoreAddress& store, const std::string& node_host) {
  if (IsLoopback(store.host)) return store.host;
  const std::string address = AddressTowards(store);
  return address.empty() ? node_host : address;
}

}  // namespace

train::Result<int> FindFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return train::InternalError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int error = errno;
  close(fd);
  if (!bound) {
    return train::InternalError(std::string("cannot find a free port for MASTER_PORT: ") +
                                std::strerror(error));
  }
  return static_cast<int>(ntohs(addr.sin_port));
}

train::Result<train::StoreAddress> AgreeTorchMaster(train::Store* round_store, int node_rank,
                                                    const std::string& node_host,
                                                    const train::StoreAddress& store,
                                                    train::Milliseconds timeout) {
  std::string published;
  if (node_rank == 0) {
    TRAIN_ASSIGN_OR_RETURN(int port, FindFreePort());
    const train::StoreAddress mine{MasterHost(store, node_host), port};
    TRAIN_ASSIGN_OR_RETURN(std::optional<std::string> now,
                           round_store->CompareSet(kTorchMasterKey, std::nullopt, mine.ToString()));
    published = now.value_or(mine.ToString());
  } else {
    TRAIN_ASSIGN_OR_RETURN(published, round_store->Get(kTorchMasterKey, timeout));
  }
  return train::StoreAddress::Parse(published, kTorchMasterKey);
}

}  // namespace trainctl::agent
