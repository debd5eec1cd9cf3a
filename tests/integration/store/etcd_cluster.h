// etcd clusters on loopback for tests: Debian's /usr/bin/etcd members started as child
// processes, ports picked free, data in a scratch directory, every member killed at the end.
#ifndef TESTS_INTEGRATION_STORE_ETCD_CLUSTER_H_
#define TESTS_INTEGRATION_STORE_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace etcd_test {

inline constexpr char kEtcdBinary[] = "/usr/bin/etcd";

// Whether etcd is installed (the tests skip themselves without it).
bool EtcdInstalled();

struct ClusterOptions {
  int members = 1;
  // TLS: the members serve https with this certificate and key; with `trusted_ca_file` they
  // also demand a client certificate signed by that CA.
  std::string cert_file;
  std::string key_file;
  std::string trusted_ca_file;
  // Simple auth tokens expire after this many idle seconds (etcd's --auth-token-ttl).
  int auth_token_ttl_s = 300;
};

class EtcdCluster {
 public:
  // Starts the members and waits until each one serves client requests. nullptr, with
  // `error` saying why (and the members' output), when it could not.
  static std::unique_ptr<EtcdCluster> Start(const ClusterOptions& options, std::string* error);
  ~EtcdCluster();  // SIGKILLs the members still running; removes the scratch directory
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  // "127.0.0.1:PORT" (with TLS "https://127.0.0.1:PORT") of one member, and of all of them.
  std::string endpoint(int member) const;
  std::vector<std::string> endpoints() const;
  int client_port(int member) const { return members_[member].client_port; }
  std::string endpoints_csv() const;  // comma-separated, as --store takes them

  // The index of the member that leads now, asking each running member's
  // /v3/maintenance/status until one names a leader that runs; -1 after `timeout`.
  int Leader(std::chrono::milliseconds timeout) const;
  // SIGKILLs one member and reaps it.
  void Kill(int member);
  bool running(int member) const { return members_[member].pid > 0; }

  // Over plain http: users root (role root) and `user` (with readwrite on keys under
  // `prefix`), then authentication on. False, with `error`, when etcd refused a step.
  bool EnableAuth(const std::string& user, const std::string& password, const std::string& prefix,
                  std::string* error);

  // The ids of the leases the cluster holds now (asked of member 0, over plain http), and
  // revoking one by hand (its keys go with it); false when etcd refused.
  std::vector<std::string> LeaseIds() const;
  bool RevokeLease(const std::string& id) const;

  // Every member's output, for failure messages.
  std::string Logs() const;
  const std::filesystem::path& scratch() const { return scratch_; }

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = -1;
    std::filesystem::path log;
  };
  EtcdCluster() = default;
  bool Launch(const ClusterOptions& options, std::string* error);
  bool WaitReady(std::chrono::milliseconds timeout, std::string* error) const;

  std::filesystem::path scratch_;
  bool tls_ = false;
  std::vector<Member> members_;
};

// POSTs `body` (JSON) to `path` on 127.0.0.1:`port` over plain http; the answer's body, or ""
// when nothing answered within 5 s.
std::string PostJson(int port, const std::string& path, const std::string& body);

// A loopback port nothing listens on right now.
int FreeLoopbackPort();

}  // namespace etcd_test

#define SKIP_WITHOUT_ETCD()                                                     \
  if (!::etcd_test::EtcdInstalled()) {                                          \
    GTEST_SKIP() << ::etcd_test::kEtcdBinary                                    \
                 << " is missing: apt-get install etcd-server (scripts/setup)"; \
  }

#endif  // TESTS_INTEGRATION_STORE_ETCD_CLUSTER_H_
