#include "store_endpoint.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

namespace trainctl::agent {
namespace {

using train::InvalidArgumentError;
using train::Result;

// The first of `names` set to a non-empty value in `env`, as {name, value}.
std::optional<std::pair<std::string, std::string>> FirstSet(
    const std::map<std::string, std::string>& env, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto it = env.find(name);
    if (it != env.end() && !it->second.empty()) return std::make_pair(it->first, it->second);
  }
  return std::nullopt;
}

std::string Get(const std::map<std::string, std::string>& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// Kubernetes leaves "$(VAR)" as is when VAR is not in the container's env.
bool IsUnexpandedReference(const std::string& value) {
  return value.size() > 3 && value.rfind("$(", 0) == 0 && value.back() == ')';
}

Result<int> ParseNodeRank(const std::string& value, const std::string& source) {
  if (value == "auto") return -1;
  if (IsUnexpandedReference(value)) {
    return InvalidArgumentError(source + " is \"" + value +
                                "\", a Kubernetes variable reference that was not expanded: set " +
                                value.substr(2, value.size() - 3) +
                                " in the container's env (the rendered Job takes it from the "
                                "pod's job-completion-index annotation)");
  }
  try {
    std::size_t used = 0;
    const int rank = std::stoi(value, &used);
    if (used == value.size() && rank >= 0) return rank;
  } catch (const std::exception&) {
  }
  return InvalidArgumentError(source + " is \"" + value +
                              "\": it must be auto or an integer >= 0 (this node's place in "
                              "node order; node 0 hosts the store with --host-store auto)");
}

enum class HostMode { kNever, kAlways, kAuto };

Result<HostMode> ParseHostMode(const std::string& value, const std::string& source) {
  if (value == "auto") return HostMode::kAuto;
  if (value == "true") return HostMode::kAlways;
  if (value == "false") return HostMode::kNever;
  return InvalidArgumentError(source + " is \"" + value +
                              "\": it must be auto (host the store when this node's rank is 0), "
                              "true (always) or false (never)");
}

Result<train::StoreAddress> ResolveStore(const EndpointFlags& flags,
                                         const std::map<std::string, std::string>& env,
                                         std::string* source) {
  if (!flags.store.empty()) {
    *source = "--store";
    return train::StoreAddress::Parse(flags.store, "--store");
  }
  if (auto store = FirstSet(env, {"TRAINCTL_STORE"})) {
    *source = "TRAINCTL_STORE";
    return train::StoreAddress::Parse(store->second, "TRAINCTL_STORE");
  }
  const std::string master_addr = Get(env, "MASTER_ADDR"), master_port = Get(env, "MASTER_PORT");
  if (!master_addr.empty() && !master_port.empty()) {
    *source = "MASTER_ADDR:MASTER_PORT";
    const bool v6 = master_addr.find(':') != std::string::npos && master_addr.front() != '[';
    const std::string joined = (v6 ? "[" + master_addr + "]" : master_addr) + ":" + master_port;
    return train::StoreAddress::Parse(joined, "MASTER_ADDR:MASTER_PORT");
  }
  std::string half;
  if (!master_addr.empty()) half = " (MASTER_ADDR is set but MASTER_PORT is not)";
  if (!master_port.empty()) half = " (MASTER_PORT is set but MASTER_ADDR is not)";
  return InvalidArgumentError(
      "no store given: pass --store HOST:PORT (node 0's address and the rendezvous port, e.g. "
      "--store job-0.job:29400), or set TRAINCTL_STORE, or MASTER_ADDR and MASTER_PORT as the "
      "PyTorchJob operator does" +
      half);
}

bool IsIpAddress(const std::string& host) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

}  // namespace

Result<Endpoint> ResolveEndpoint(const EndpointFlags& flags,
                                 const std::map<std::string, std::string>& env) {
  Endpoint out;
  if (!flags.etcd) {
    TRAIN_ASSIGN_OR_RETURN(out.store, ResolveStore(flags, env, &out.store_source));
  }

  if (!flags.node_rank.empty()) {
    TRAIN_ASSIGN_OR_RETURN(out.node_rank, ParseNodeRank(flags.node_rank, "--node-rank"));
  } else if (auto rank = FirstSet(env, {"TRAINCTL_NODE_RANK", "RANK"})) {
    TRAIN_ASSIGN_OR_RETURN(out.node_rank, ParseNodeRank(rank->second, rank->first));
  }

  if (!flags.token_file.empty()) {
    out.token_file = flags.token_file;
  } else if (auto file = FirstSet(env, {"TRAINCTL_TOKEN_FILE"})) {
    out.token_file = file->second;
  } else if (!flags.etcd) {
    return InvalidArgumentError(
        "no token file given: pass --token-file F or set TRAINCTL_TOKEN_FILE (the file holding "
        "the job's store token; every agent and worker of the job reads the same token)");
  }

  HostMode mode = HostMode::kNever;
  std::string mode_source;
  if (!flags.host_store.empty()) {
    mode_source = "--host-store";
    TRAIN_ASSIGN_OR_RETURN(mode, ParseHostMode(flags.host_store, mode_source));
  } else if (auto host = FirstSet(env, {"TRAINCTL_HOST_STORE"})) {
    mode_source = host->first;
    TRAIN_ASSIGN_OR_RETURN(mode, ParseHostMode(host->second, mode_source));
  }
  if (flags.etcd) {
    // An etcd cluster is the store: `auto` (what a rendered pod passes) hosts nothing.
    if (mode == HostMode::kAlways) {
      return InvalidArgumentError(mode_source +
                                  " asks this agent to host the store, but the job's store is "
                                  "in etcd (spec.rendezvous.backend): drop " +
                                  mode_source);
    }
    return out;
  }
  if (mode == HostMode::kAuto && out.node_rank < 0) {
    return InvalidArgumentError(
        mode_source +
        " is auto, which hosts the store on node 0, but this node's rank is not known: pass "
        "--node-rank N (or set TRAINCTL_NODE_RANK or RANK), or use --host-store true on the "
        "node that hosts the store");
  }
  out.host_store = mode == HostMode::kAlways || (mode == HostMode::kAuto && out.node_rank == 0);
  return out;
}

std::optional<train::EtcdConfig> EtcdConfigOf(const trainctl::v1alpha1::Rendezvous& rendezvous,
                                              const std::string& working_dir) {
  if (rendezvous.backend() != "etcd") return std::nullopt;
  const auto absolute = [&working_dir](const std::string& path) {
    if (path.empty() || path.front() == '/') return path;
    return (std::filesystem::path(working_dir) / path).lexically_normal().string();
  };
  train::EtcdConfig config;
  config.endpoints.assign(rendezvous.endpoints().begin(), rendezvous.endpoints().end());
  config.username = rendezvous.auth().username();
  config.password_file = absolute(rendezvous.auth().password_file());
  config.ca_file = absolute(rendezvous.auth().ca_file());
  config.cert_file = absolute(rendezvous.auth().cert_file());
  config.key_file = absolute(rendezvous.auth().key_file());
  return config;
}

Result<std::unique_ptr<train::Store>> ConnectJobStore(const train::StoreAddress& address,
                                                      const std::string& token_file,
                                                      const std::optional<train::EtcdConfig>& etcd,
                                                      const std::string& job_id,
                                                      const train::StoreClientOptions& options) {
  if (etcd.has_value()) {
    TRAIN_ASSIGN_OR_RETURN(train::EtcdOptions etcd_options, train::JobEtcdOptions(*etcd, job_id));
    etcd_options.default_timeout = options.default_timeout;
    etcd_options.request_timeout = options.request_timeout;
    return train::ConnectEtcdStore(etcd_options);
  }
  TRAIN_ASSIGN_OR_RETURN(std::string token, train::ReadTokenFile(token_file));
  return train::ConnectStore(address, std::move(token), options);
}

Result<std::string> ResolveStoreBind(const std::string& bind_flag, const train::StoreAddress& store,
                                     const std::map<std::string, std::string>& env) {
  std::string value = bind_flag;
  std::string source = "--store-bind";
  if (value.empty()) {
    if (auto bind = FirstSet(env, {"TRAINCTL_STORE_BIND"})) {
      value = bind->second;
      source = bind->first;
    }
  }
  if (value.empty()) {
    if (IsIpAddress(store.host)) return store.host;
    if (store.host == "localhost") return std::string("127.0.0.1");
    return std::string("0.0.0.0");
  }
  if (value.size() > 2 && value.front() == '[' && value.back() == ']') {
    value = value.substr(1, value.size() - 2);
  }
  if (!IsIpAddress(value)) {
    return InvalidArgumentError(source + " is \"" + value +
                                "\": it must be a numeric address of this machine to listen "
                                "on, e.g. 0.0.0.0 (every interface), 127.0.0.1 (this machine "
                                "only) or one interface's address");
  }
  return value;
}

train::StoreServerOptions JobStoreServerOptions(std::string host, int port, std::string token) {
  constexpr std::size_t kJobStoreConnections = 1 << 16;
  train::StoreServerOptions options;
  options.host = std::move(host);
  options.port = port;
  options.token = std::move(token);
  options.limits.max_connections = kJobStoreConnections;
  return options;
}

std::string DiagnoseStore(const train::StoreAddress& address, train::Milliseconds connect_timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  const int gai = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0 || found == nullptr) {
    return "the name " + address.host + " does not resolve (yet): " + gai_strerror(gai);
  }
  std::string reason;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char ip[INET6_ADDRSTRLEN] = {};
    const void* raw =
        a->ai_family == AF_INET6
            ? static_cast<const void*>(
                  &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr)
            : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr);
    inet_ntop(a->ai_family, raw, ip, sizeof(ip));
    const int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int error = 0;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        const int ready = poll(&p, 1, static_cast<int>(connect_timeout.count()));
        socklen_t length = sizeof(error);
        if (ready == 0) {
          error = ETIMEDOUT;
        } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
          error = errno;
        }
      }
    }
    close(fd);
    if (error == 0) {
      freeaddrinfo(found);
      return "";
    }
    if (!reason.empty()) reason += "; ";
    reason += error == ECONNREFUSED ? "nothing listens on " + std::string(ip) + ":" + port + " yet"
                                    : std::string(ip) + ":" + port + " does not answer (" +
                                          std::strerror(error) + ")";
  }
  freeaddrinfo(found);
  return reason.empty() ? "cannot open a socket to " + address.ToString() : reason;
}

}  // namespace trainctl::agent
