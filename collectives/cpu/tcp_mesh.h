// The bootstrap of a TCP group: every member listens, publishes its address to the store and
// connects to the members before it, so that each pair shares two connections, each opened
// with a handshake naming the group and the member.
#ifndef TRAIN_COLLECTIVES_CPU_TCP_MESH_H_
#define TRAIN_COLLECTIVES_CPU_TCP_MESH_H_

#include <string>
#include <vector>

#include "cpu/tcp_group.h"
#include "cpu/tcp_socket.h"

namespace train::internal {

// What this member shares with one other: `data` carries the ops' bytes; `control` carries
// short notices (which op a member is in, why an op stopped) that must get through while the
// data connection is in the middle of a message.
struct TcpLink {
  int member = -1;
  int comm_rank = -1;
  std::string address;  // where the peer listens, "host:port" (for errors)
  UniqueFd data;
  UniqueFd control;
};

// The links to every member, indexed by member (this member's own entry stays empty).
Result<std::vector<TcpLink>> ConnectTcpMesh(const TcpGroupConfig& config);

}  // namespace train::internal

#endif  // TRAIN_COLLECTIVES_CPU_TCP_MESH_H_
