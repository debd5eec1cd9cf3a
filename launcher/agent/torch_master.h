// Where torch.distributed's env:// rendezvous meets in a round (MASTER_ADDR:MASTER_PORT).
//
// Under env:// rank 0 binds MASTER_PORT for torch's TCPStore and the other ranks connect to it,
// so the port must be free on rank 0's node: it cannot be the job store's port. Node 0's agent
// finds a free port for each round and publishes it in the round's keys; the other nodes' agents
// read it, and every worker of the round gets the same MASTER_ADDR and MASTER_PORT.
#ifndef TRAINCTL_AGENT_TORCH_MASTER_H_
#define TRAINCTL_AGENT_TORCH_MASTER_H_

#include <string>
#include <utility>

#include "process_fd.h"
#include "train/env.h"
#include "train/status.h"
#include "train/store.h"

namespace trainctl::agent {

// The ports the kernel hands out on its own: bind(0) and the local end of outgoing connections
// (/proc/sys/net/ipv4/ip_local_port_range; 32768-60999 when it cannot be read).
std::pair<int, int> EphemeralPortRange();

// A TCP port held for rank 0's TCPStore between the moment node 0 picks it and the end of the
// round. The port is bound (never listening) by a socket that first bound it alone, so it was
// free of every other socket, and then set SO_REUSEADDR: while it is held the kernel gives the
// port to nobody else (not to bind(0), not to an outgoing connection, not to a bind without
// SO_REUSEADDR), yet a listener that sets SO_REUSEADDR, as torch's TCPStore does, binds and
// listens on it. That is the hand-off: nothing can take the port between the pick and rank 0.
class PortReservation {
 public:
  PortReservation() = default;  // holds nothing
  // Picks a port outside the ephemeral range (away from 29400-29599, trainctl's and torch's
  // usual ports), at random, and holds it; from the ephemeral range only when nothing else is
  // free.
  static train::Result<PortReservation> Reserve();
  // Holds `port`; an error when any socket has it (bound, listening, or in TIME_WAIT).
  static train::Result<PortReservation> Hold(int port);

  int port() const { return port_; }
  bool held() const { return socket_.valid(); }
  void Release();

 private:
  process_internal::UniqueFd socket_;
  int port_ = 0;
};

// Node 0: picks the address (the store's host when the store is on loopback, so that a job on
// one machine stays on loopback; else the address of its interface towards the store, or
// `node_host`, its host name, when there is none) and a port (PortReservation::Reserve), and
// publishes them under the round's key "torch_master" (kept if already there). Other nodes:
// wait up to `timeout` for node 0 to publish them. With `reservation`, node 0 keeps holding its
// port there until the caller releases it (at the end of the round); without, it is released
// on return.
train::Result<train::StoreAddress> AgreeTorchMaster(train::Store* round_store, int node_rank,
                                                    const std::string& node_host,
                                                    const train::StoreAddress& store,
                                                    train::Milliseconds timeout,
                                                    PortReservation* reservation = nullptr);

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_TORCH_MASTER_H_
