#include "torch_master.h"

#include <arpa/inet.h>
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
    const train::StoreAddress mine{IsLoopback(store.host) ? store.host : node_host, port};
    TRAIN_ASSIGN_OR_RETURN(std::optional<std::string> now,
                           round_store->CompareSet(kTorchMasterKey, std::nullopt, mine.ToString()));
    published = now.value_or(mine.ToString());
  } else {
    TRAIN_ASSIGN_OR_RETURN(published, round_store->Get(kTorchMasterKey, timeout));
  }
  return train::StoreAddress::Parse(published, kTorchMasterKey);
}

}  // namespace trainctl::agent
