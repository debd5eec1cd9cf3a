// The local address that other hosts can reach this rank at.
#ifndef TRAIN_COLLECTIVES_CPU_ROUTE_ADDRESS_H_
#define TRAIN_COLLECTIVES_CPU_ROUTE_ADDRESS_H_

#include <string>

namespace train::internal {

// The address of the interface the kernel would route to `peer_host` through (a UDP socket
// "connected" to it sends nothing); "127.0.0.1" for a loopback peer or when it cannot tell.
std::string RouteAddressTo(const std::string& peer_host);

// This host's own address by name (gethostname resolved), or "127.0.0.1".
std::string HostNameAddress();

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_ROUTE_ADDRESS_H_
