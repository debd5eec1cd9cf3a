#include "torch_master.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <vector>

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

std::pair<int, int> EphemeralPortRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0, high = 0;
  if (in >> low >> high && 0 < low && low <= high && high <= 65535) return {low, high};
  return {32768, 60999};
}

train::Result<PortReservation> PortReservation::Hold(int port) {
  // Dual-stack IPv6 covers IPv4 too; IPv4 alone where IPv6 is off.
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int bound = -1;
  if (fd >= 0) {
    int v6only = 0;
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_any;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } else {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return train::InternalError(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  PortReservation held;
  held.socket_ = process_internal::UniqueFd(fd);
  // Bound without SO_REUSEADDR first: that succeeds only when no other socket has the port.
  if (bound != 0) {
    return train::UnavailableError("port " + std::to_string(port) +
                                   " is in use: " + std::strerror(errno));
  }
  // From now on a listener with SO_REUSEADDR (rank 0's TCPStore) may bind it beside this one.
  int reuse = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof(reuse)) != 0) {
    return train::InternalError(std::string("setsockopt(SO_REUSEADDR): ") + std::strerror(errno));
  }
  held.port_ = port;
  return held;
}

train::Result<PortReservation> PortReservation::Reserve() {
  constexpr int kLowest = 20000;  // below: many services' fixed ports
  const auto [ephemeral_low, ephemeral_high] = EphemeralPortRange();
  std::vector<std::pair<int, int>> ranges;
  if (ephemeral_low - 1 >= kLowest) ranges.push_back({kLowest, ephemeral_low - 1});
  if (ephemeral_high + 1 <= 65535) ranges.push_back({ephemeral_high + 1, 65535});
  if (ranges.empty()) ranges.push_back({ephemeral_low, ephemeral_high});
  std::mt19937 random(std::random_device{}());
  std::string last_error = "no port to try";
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto& [low, high] = ranges[random() % ranges.size()];
    const int port = std::uniform_int_distribution<int>(low, high)(random);
    if (port >= 29400 && port <= 29599) continue;  // trainctl's store, torchrun's MASTER_PORT
    auto held = Hold(port);
    if (held.ok()) return held;
    last_error = held.status().message();
  }
  return train::UnavailableError("cannot find a free port for MASTER_PORT (last: " + last_error +
                                 ")");
}

void PortReservation::Release() {
  socket_.reset();
  port_ = 0;
}

train::Result<train::StoreAddress> AgreeTorchMaster(train::Store* round_store, int node_rank,
                                                    const std::string& node_host,
                                                    const train::StoreAddress& store,
                                                    train::Milliseconds timeout,
                                                    PortReservation* reservation) {
  std::string published;
  if (node_rank == 0) {
    TRAIN_ASSIGN_OR_RETURN(PortReservation port, PortReservation::Reserve());
    const train::StoreAddress mine{MasterHost(store, node_host), port.port()};
    TRAIN_ASSIGN_OR_RETURN(std::optional<std::string> now,
                           round_store->CompareSet(kTorchMasterKey, std::nullopt, mine.ToString()));
    published = now.value_or(mine.ToString());
    // Held until the round ends, unless the round already had its port (then it is not ours).
    if (reservation != nullptr && published == mine.ToString()) *reservation = std::move(port);
  } else {
    TRAIN_ASSIGN_OR_RETURN(published, round_store->Get(kTorchMasterKey, timeout));
  }
  return train::StoreAddress::Parse(published, kTorchMasterKey);
}

}  // namespace trainctl::agent
