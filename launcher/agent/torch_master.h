// Where torch.distributed's env:// rendezvous meets in a round (MASTER_ADDR:MASTER_PORT).
//
// Under env:// rank 0 binds MASTER_PORT for torch's TCPStore and the other ranks connect to it,
// so the port must be free on rank 0's node: it cannot be the job store's port. Node 0's agent
// finds a free port for each round and publishes it in the round's keys; the other nodes' agents
// read it, and every worker of the round gets the same MASTER_ADDR and MASTER_PORT.
#ifndef TRAINCTL_AGENT_TORCH_MASTER_H_
#define TRAINCTL_AGENT_TORCH_MASTER_H_

#include <string>

#include "train/env.h"
#include "train/status.h"
#include "train/store.h"

namespace trainctl::agent {

// A TCP port that nothing listens on now (the kernel's pick), for a worker to bind shortly.
train::Result<int> FindFreePort();

// Node 0: picks the address (the store's host when the store is on loopback, so that a job on
// one machine stays on loopback; else the address of its interface towards the store, or
// `node_host`, its host name, when there is none) and a free port, and
// publishes them under the round's key "torch_master" (kept if already there). Other nodes:
// wait up to `timeout` for node 0 to publish them.
train::Result<train::StoreAddress> AgreeTorchMaster(train::Store* round_store, int node_rank,
                                                    const std::string& node_host,
                                                    const train::StoreAddress& store,
                                                    train::Milliseconds timeout);

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_TORCH_MASTER_H_
