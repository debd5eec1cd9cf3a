// Where an agent finds the job's store, which node it is, and whether it hosts the store: from
// its flags first, then its environment (a Kubernetes pod gets these from the rendered Job, or
// from the PyTorchJob operator). docs/launcher.md, "In a Kubernetes pod".
#ifndef TRAINCTL_AGENT_STORE_ENDPOINT_H_
#define TRAINCTL_AGENT_STORE_ENDPOINT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "launcher/spec/trainingjob.pb.h"
#include "train/env.h"
#include "train/status.h"
#include "train/store.h"

namespace trainctl::agent {

// What the command line said; "" means the flag was not given.
struct EndpointFlags {
  std::string store;       // --store HOST:PORT
  std::string node_rank;   // --node-rank N|auto
  std::string token_file;  // --token-file F
  std::string host_store;  // --host-store auto|true|false ("true" for the bare flag)
  // The job's store is in etcd (spec.rendezvous.backend): the store address comes from the
  // cluster's endpoints instead, no token file is needed, and no agent hosts a store.
  bool etcd = false;
};

struct Endpoint {
  train::StoreAddress store;
  std::string store_source;  // which flag or variables named the store (for messages)
  int node_rank = -1;        // -1: by join order
  std::string token_file;
  bool host_store = false;  // serve the store on <ResolveStoreBind>:<store's port>
};

// Resolves flags, then TRAINCTL_STORE, TRAINCTL_NODE_RANK, TRAINCTL_TOKEN_FILE and
// TRAINCTL_HOST_STORE, then the PyTorchJob operator's MASTER_ADDR:MASTER_PORT (the store) and
// RANK (the node rank). `auto` hosts the store when the node rank is 0. Errors
// (INVALID_ARGUMENT) name the flag or variable, its value and the fix.
train::Result<Endpoint> ResolveEndpoint(const EndpointFlags& flags,
                                        const std::map<std::string, std::string>& env);

// The etcd cluster of spec.rendezvous (backend etcd) as agents and workers use it: the auth
// files made absolute against `working_dir`, where relative ones are meant. nullopt for the
// built-in store.
std::optional<train::EtcdConfig> EtcdConfigOf(const trainctl::v1alpha1::Rendezvous& rendezvous,
                                              const std::string& working_dir);

// The job's store as an agent or trainctl reaches it: the job's keys in the etcd cluster when
// `etcd` is set (nothing else is needed), else the built-in store at `address`, with the token
// read from `token_file`.
train::Result<std::unique_ptr<train::Store>> ConnectJobStore(
    const train::StoreAddress& address, const std::string& token_file,
    const std::optional<train::EtcdConfig>& etcd, const std::string& job_id,
    const train::StoreClientOptions& options = {});

// The address a store hosted by this agent listens on: `bind_flag` (--store-bind) when given,
// else TRAINCTL_STORE_BIND, else the store's own host when it is an IP address (so
// `--store 127.0.0.1:PORT` listens on loopback only) or "localhost" (127.0.0.1), else every
// interface ("0.0.0.0"): a name is how other hosts reach this one, and in a pod it may not
// resolve yet when the agent starts. The address given must be a numeric IPv4 or IPv6 one
// ("0.0.0.0" or "::" for every interface); errors (INVALID_ARGUMENT) name the flag or
// variable and its value.
train::Result<std::string> ResolveStoreBind(const std::string& bind_flag,
                                            const train::StoreAddress& store,
                                            const std::map<std::string, std::string>& env);

// How a job's built-in store is served (trainctl run, agent --host-store, a successor): on
// `host`:`port` with `token`, and room for the connections of thousands of nodes (an agent
// holds 2-3, a worker 1-2; the server takes at most what the open-file limit leaves).
train::StoreServerOptions JobStoreServerOptions(std::string host, int port, std::string token);

// Why the store at `address` cannot be reached right now, in a few words for a log line:
// the name does not resolve, nothing listens at the address it resolves to, or no answer
// within `connect_timeout`. Resolves the name again on each call (a replaced pod 0 has a new
// address). "" when a TCP connection succeeds (the store itself refused the request).
std::string DiagnoseStore(const train::StoreAddress& address, train::Milliseconds connect_timeout);

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_STORE_ENDPOINT_H_
