#include "cpu/tcp_mesh.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <utility>

namespace train::internal {
namespace {

constexpr char kHelloMagic[] = "train-tcp/1";
constexpr std::size_t kMaxHandshakeLine = 1024;
// A connection that says nothing is dropped after this, so a stray one cannot stall the
// bootstrap.
constexpr std::chrono::seconds kHelloTimeout{5};

enum class LinkKind { kData, kControl };

const char* KindName(LinkKind kind) { return kind == LinkKind::kData ? "data" : "control"; }

std::string AddressKey(const TcpGroupConfig& config, int member) {
  return config.key_prefix + "addr/" + std::to_string(member);
}

std::string DescribePeer(const TcpGroupConfig& config, int member, const std::string& address) {
  return "rank " + std::to_string(config.comm_ranks[static_cast<std::size_t>(member)]) + " (" +
         address + ")";
}

Milliseconds Remaining(Deadline deadline) {
  const auto left =
      std::chrono::duration_cast<Milliseconds>(deadline - std::chrono::steady_clock::now());
  return std::max(left, Milliseconds(1));
}

// "train-tcp/1 <group> <size> <member> <data|control> <where the connector listens>"
std::string HelloLine(const TcpGroupConfig& config, LinkKind kind, const std::string& address) {
  std::ostringstream line;
  line << kHelloMagic << ' ' << config.key_prefix << ' ' << config.size << ' ' << config.member
       << ' ' << KindName(kind) << ' ' << address << '\n';
  return line.str();
}

struct Hello {
  int member = -1;
  LinkKind kind = LinkKind::kData;
  std::string address;
};

// Checks a connecting member's hello; the error is what the connector is told.
Result<Hello> ParseHello(const TcpGroupConfig& config, const std::string& line) {
  std::istringstream fields(line);
  std::string magic, prefix, kind;
  int size = 0;
  Hello hello;
  if (!(fields >> magic >> prefix >> size >> hello.member >> kind >> hello.address) ||
      magic != kHelloMagic) {
    return InvalidArgumentError("not a train-tcp/1 hello");
  }
  if (prefix != config.key_prefix || size != config.size) {
    return InvalidArgumentError("this address belongs to group " + config.key_prefix + " of size " +
                                std::to_string(config.size) + ", not " + prefix + " of size " +
                                std::to_string(size));
  }
  if (hello.member <= config.member || hello.member >= config.size) {
    return InvalidArgumentError("member " + std::to_string(hello.member) +
                                " must not connect to member " + std::to_string(config.member));
  }
  if (kind == "data") {
    hello.kind = LinkKind::kData;
  } else if (kind == "control") {
    hello.kind = LinkKind::kControl;
  } else {
    return InvalidArgumentError("unknown connection kind " + kind);
  }
  return hello;
}

Status ValidateConfig(const TcpGroupConfig& config) {
  if (config.store == nullptr) return InvalidArgumentError("a TCP group needs a store");
  if (config.size < 1 || config.member < 0 || config.member >= config.size) {
    return InvalidArgumentError("TCP group member " + std::to_string(config.member) +
                                " out of range for size " + std::to_string(config.size));
  }
  if (config.comm_ranks.size() != static_cast<std::size_t>(config.size)) {
    return InvalidArgumentError("TCP group of size " + std::to_string(config.size) + " given " +
                                std::to_string(config.comm_ranks.size()) + " communicator ranks");
  }
  if (config.key_prefix.empty() || config.key_prefix.find(' ') != std::string::npos) {
    return InvalidArgumentError("TCP group key prefix \"" + config.key_prefix +
                                "\" must be non-empty and without spaces");
  }
  if (config.listen_host.empty()) {
    return InvalidArgumentError("TCP group needs a listen host that the other hosts can reach");
  }
  return Status::Ok();
}

// Opens one outgoing connection to `member` and sends the hello; the reply is read later, once
// this member has answered the members that connect to it (so no two wait on each other).
Result<UniqueFd> Dial(const TcpGroupConfig& config, int member, const TcpAddress& address,
                      LinkKind kind, const std::string& own_address) {
  const std::string peer = DescribePeer(config, member, address.ToString());
  auto fd = ConnectTcp(address, config.deadline, config.aborted);
  if (!fd.ok()) return fd.status().WithContext("cannot connect to " + peer);
  Status sent =
      SendLine(fd->get(), HelloLine(config, kind, own_address), config.deadline, config.aborted);
  if (!sent.ok()) return sent.WithContext("cannot greet " + peer);
  return fd;
}

Status ReadWelcome(const TcpGroupConfig& config, int member, const std::string& address, int fd) {
  const std::string peer = DescribePeer(config, member, address);
  auto line = ReadLine(fd, kMaxHandshakeLine, config.deadline, config.aborted);
  if (!line.ok()) return line.status().WithContext("no handshake answer from " + peer);
  std::istringstream fields(*line);
  std::string word, prefix;
  int answered_member = -1;
  fields >> word;
  if (word == "refused") {
    std::string reason;
    std::getline(fields, reason);
    return UnavailableError(peer + " refused the connection:" + reason);
  }
  if (word != "welcome" || !(fields >> prefix >> answered_member) || prefix != config.key_prefix ||
      answered_member != member) {
    return UnavailableError(peer + " answered \"" + *line + "\", not as member " +
                            std::to_string(member) + " of group " + config.key_prefix +
                            ": is the address stale?");
  }
  return Status::Ok();
}

// Why the later members that have not connected did not: never published, or published and
// did not connect (or greet) in time.
std::string DescribeMissing(const TcpGroupConfig& config, const std::vector<TcpLink>& links) {
  std::string names;
  for (int m = config.member + 1; m < config.size; ++m) {
    const TcpLink& link = links[static_cast<std::size_t>(m)];
    if (link.data.valid() && link.control.valid()) continue;
    const std::string key = AddressKey(config, m);
    auto published = config.store->TryGet(key);
    std::string what = "rank " + std::to_string(link.comm_rank);
    if (published.ok() && !published->has_value()) {
      what += " did not publish its address (" + key + ")";
    } else {
      what += published.ok() ? " (" + **published + ")" : "";
      what += " did not connect";
    }
    names += (names.empty() ? "" : "; ") + what;
  }
  return names;
}

// Accepts until every later member opened both its connections. A connection that is not
// one of them is told why and closed; the bootstrap goes on.
Status AcceptLater(const TcpGroupConfig& config, int listener, std::vector<TcpLink>& links) {
  int expected = 2 * (config.size - 1 - config.member);
  while (expected > 0) {
    auto fd = AcceptTcp(listener, config.deadline, config.aborted);
    if (!fd.ok()) return fd.status().WithContext(DescribeMissing(config, links));
    const Deadline hello_deadline =
        std::min(config.deadline, std::chrono::steady_clock::now() + kHelloTimeout);
    auto line = ReadLine(fd->get(), kMaxHandshakeLine, hello_deadline, config.aborted);
    if (!line.ok()) continue;  // not a member, or gone already: drop it
    auto hello = ParseHello(config, *line);
    if (hello.ok()) {
      TcpLink& link = links[static_cast<std::size_t>(hello->member)];
      UniqueFd& slot = hello->kind == LinkKind::kData ? link.data : link.control;
      if (slot.valid()) hello = InvalidArgumentError("a second connection of the same kind");
    }
    if (!hello.ok()) {
      (void)SendLine(fd->get(), "refused " + hello.status().message() + "\n", hello_deadline,
                     config.aborted);
      continue;
    }
    TRAIN_RETURN_IF_ERROR(SendLine(
        fd->get(), "welcome " + config.key_prefix + " " + std::to_string(config.member) + "\n",
        config.deadline, config.aborted));
    TcpLink& link = links[static_cast<std::size_t>(hello->member)];
    link.address = hello->address;
    (hello->kind == LinkKind::kData ? link.data : link.control) = std::move(*fd);
    --expected;
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<TcpLink>> ConnectTcpMesh(const TcpGroupConfig& config) {
  TRAIN_RETURN_IF_ERROR(ValidateConfig(config));
  const std::string group = "TCP group " + config.key_prefix;
  std::vector<TcpLink> links(static_cast<std::size_t>(config.size));
  for (int m = 0; m < config.size; ++m) {
    links[static_cast<std::size_t>(m)].member = m;
    links[static_cast<std::size_t>(m)].comm_rank = config.comm_ranks[static_cast<std::size_t>(m)];
  }
  if (config.size == 1) return links;

  TcpAddress bound;
  auto listener = ListenTcp(config.listen_host, &bound);
  if (!listener.ok()) return listener.status().WithContext(group);
  TRAIN_RETURN_IF_ERROR(config.store->Set(AddressKey(config, config.member), bound.ToString())
                            .WithContext(group + ": cannot publish this member's address"));

  // Earlier members are dialed; later ones dial this one and say where they listen.
  for (int m = 0; m < config.member; ++m) {
    TcpLink& link = links[static_cast<std::size_t>(m)];
    const std::string key = AddressKey(config, m);
    auto value = config.store->Get(key, Remaining(config.deadline));
    if (!value.ok()) {
      return value.status().WithContext(group + ": rank " + std::to_string(link.comm_rank) +
                                        " did not publish its address (" + key + ")");
    }
    link.address = *value;
    auto address = ParseTcpAddress(link.address);
    if (!address.ok()) return address.status().WithContext(group);
    for (LinkKind kind : {LinkKind::kData, LinkKind::kControl}) {
      auto fd = Dial(config, m, *address, kind, bound.ToString());
      if (!fd.ok()) return fd.status().WithContext(group);
      (kind == LinkKind::kData ? link.data : link.control) = std::move(*fd);
    }
  }
  TRAIN_RETURN_IF_ERROR(AcceptLater(config, listener->get(), links).WithContext(group));
  for (int m = 0; m < config.member; ++m) {
    const TcpLink& link = links[static_cast<std::size_t>(m)];
    for (const UniqueFd* fd : {&link.data, &link.control}) {
      TRAIN_RETURN_IF_ERROR(ReadWelcome(config, m, link.address, fd->get()).WithContext(group));
    }
  }
  return links;
}

}  // namespace train::internal
