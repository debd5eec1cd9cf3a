#include "etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "store/base64.h"
#include "store/etcd_wire.h"

namespace etcd_test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The member's id as its status answers name it (header.member_id, leader).
std::string MemberId(const json& status, const char* field) {
  if (std::string(field) == "leader") {
    return status.contains("leader") ? status["leader"].get<std::string>() : "";
  }
  return status.contains("header") && status["header"].contains("member_id")
             ? status["header"]["member_id"].get<std::string>()
             : "";
}

}  // namespace

bool EtcdInstalled() { return access(kEtcdBinary, X_OK) == 0; }

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string PostJson(int port, const std::string& path, const std::string& body) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                "Connection: close\r\nContent-Type: application/json\r\n" +
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                                body;
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, n);
    }
  }
  close(fd);
  const std::size_t blank = answer.find("\r\n\r\n");
  return blank == std::string::npos ? "" : answer.substr(blank + 4);
}

std::unique_ptr<EtcdCluster> EtcdCluster::Start(const ClusterOptions& options, std::string* error) {
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster());
  std::random_device random;
  cluster->scratch_ = fs::temp_directory_path() /
                      ("etcd-test-" + std::to_string(getpid()) + "-" + std::to_string(random()));
  fs::create_directories(cluster->scratch_);
  cluster->tls_ = !options.cert_file.empty();
  if (!cluster->Launch(options, error)) return nullptr;
  // A loaded machine may take a while to elect the first leader.
  if (!cluster->WaitReady(std::chrono::seconds(60), error)) return nullptr;
  return cluster;
}

bool EtcdCluster::Launch(const ClusterOptions& options, std::string* error) {
  const std::string scheme = tls_ ? "https://" : "http://";
  for (int i = 0; i < options.members; ++i) {
    Member member;
    member.name = "m" + std::to_string(i);
    member.client_port = FreeLoopbackPort();
    member.peer_port = FreeLoopbackPort();
    member.log = scratch_ / (member.name + ".log");
    members_.push_back(member);
  }
  std::string initial;
  for (const Member& m : members_) {
    initial +=
        (initial.empty() ? "" : ",") + m.name + "=http://127.0.0.1:" + std::to_string(m.peer_port);
  }
  for (Member& m : members_) {
    const std::string client = scheme + "127.0.0.1:" + std::to_string(m.client_port);
    const std::string peer = "http://127.0.0.1:" + std::to_string(m.peer_port);
    std::vector<std::string> args = {kEtcdBinary,
                                     "--name",
                                     m.name,
                                     "--data-dir",
                                     (scratch_ / m.name).string(),
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer,
                                     "--initial-advertise-peer-urls",
                                     peer,
                                     "--initial-cluster",
                                     initial,
                                     "--initial-cluster-state",
                                     "new",
                                     "--initial-cluster-token",
                                     scratch_.filename().string(),
                                     "--auth-token-ttl",
                                     std::to_string(options.auth_token_ttl_s)};
    if (tls_) {
      args.insert(args.end(), {"--cert-file", options.cert_file, "--key-file", options.key_file});
      if (!options.trusted_ca_file.empty()) {
        args.insert(args.end(),
                    {"--trusted-ca-file", options.trusted_ca_file, "--client-cert-auth"});
      }
    }
    const pid_t pid = fork();
    if (pid < 0) {
      *error = "fork failed";
      return false;
    }
    if (pid == 0) {
      // The member dies with the test, also when the test is killed.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = open(m.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(kEtcdBinary, argv.data());
      _exit(127);
    }
    m.pid = pid;
  }
  return true;
}

bool EtcdCluster::WaitReady(std::chrono::milliseconds timeout, std::string* error) const {
  const auto deadline = Clock::now() + timeout;
  for (const Member& m : members_) {
    while (ReadFile(m.log).find("ready to serve client requests") == std::string::npos) {
      int status = 0;
      if (waitpid(m.pid, &status, WNOHANG) == m.pid) {
        *error = "etcd member " + m.name + " exited at start:\n" + Logs();
        return false;
      }
      if (Clock::now() > deadline) {
        *error = "etcd member " + m.name + " was not ready in time:\n" + Logs();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return true;
}

EtcdCluster::~EtcdCluster() {
  for (int i = 0; i < size(); ++i) {
    if (running(i)) Kill(i);
  }
  std::error_code ignored;
  fs::remove_all(scratch_, ignored);
}

std::string EtcdCluster::endpoint(int member) const {
  return std::string(tls_ ? "https://" : "") +
         "127.0.0.1:" + std::to_string(members_[member].client_port);
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(endpoint(i));
  return out;
}

std::string EtcdCluster::endpoints_csv() const {
  std::string out;
  for (const std::string& e : endpoints()) out += (out.empty() ? "" : ",") + e;
  return out;
}

int EtcdCluster::Leader(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    std::vector<std::string> ids(members_.size());
    std::string leader;
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].pid <= 0) continue;
      const json status =
          json::parse(PostJson(members_[i].client_port, "/v3/maintenance/status", "{}"), nullptr,
                      /*allow_exceptions=*/false);
      if (!status.is_object()) continue;
      ids[i] = MemberId(status, "member_id");
      if (leader.empty()) leader = MemberId(status, "leader");
    }
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!leader.empty() && ids[i] == leader) return static_cast<int>(i);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

void EtcdCluster::Kill(int member) {
  Member& m = members_[member];
  if (m.pid <= 0) return;
  kill(m.pid, SIGKILL);
  waitpid(m.pid, nullptr, 0);
  m.pid = -1;
}

bool EtcdCluster::EnableAuth(const std::string& user, const std::string& password,
                             const std::string& prefix, std::string* error) {
  using train::internal::Base64Encode;
  const int port = members_.front().client_port;
  const std::pair<std::string, json> steps[] = {
      {"/v3/auth/user/add", {{"name", "root"}, {"password", password + "-root"}}},
      {"/v3/auth/role/add", {{"name", "root"}}},
      {"/v3/auth/user/grant", {{"user", "root"}, {"role", "root"}}},
      {"/v3/auth/user/add", {{"name", user}, {"password", password}}},
      {"/v3/auth/role/add", {{"name", user}}},
      {"/v3/auth/role/grant",
       {{"name", user},
        {"perm",
         {{"permType", "READWRITE"},
          {"key", Base64Encode(prefix)},
          {"range_end", Base64Encode(train::internal::EtcdPrefixEnd(prefix))}}}}},
      {"/v3/auth/user/grant", {{"user", user}, {"role", user}}},
      {"/v3/auth/enable", json::object()}};
  for (const auto& [path, body] : steps) {
    const std::string answer = PostJson(port, path, body.dump());
    if (answer.find("\"header\"") == std::string::npos) {
      *error = path + " answered: " + answer;
      return false;
    }
  }
  return true;
}

std::vector<std::string> EtcdCluster::LeaseIds() const {
  const json answer =
      json::parse(PostJson(members_[0].client_port, "/v3/lease/leases", "{}"), nullptr, false);
  std::vector<std::string> ids;
  if (!answer.is_object() || !answer.contains("leases")) return ids;
  for (const json& lease : answer["leases"]) ids.push_back(lease.value("ID", ""));
  return ids;
}

bool EtcdCluster::RevokeLease(const std::string& id) const {
  const std::string answer =
      PostJson(members_[0].client_port, "/v3/lease/revoke", "{\"ID\":\"" + id + "\"}");
  return answer.find("\"header\"") != std::string::npos;
}

std::string EtcdCluster::Logs() const {
  std::string out;
  for (const Member& m : members_) {
    std::string log = ReadFile(m.log);
    if (log.size() > 4000) log = "..." + log.substr(log.size() - 4000);
    out += "--- etcd " + m.name + " ---\n" + log;
  }
  return out;
}

}  // namespace etcd_test
