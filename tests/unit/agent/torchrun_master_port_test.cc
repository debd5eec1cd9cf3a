// MASTER_PORT's hand-off to rank 0's TCPStore: the port node 0 picks is outside the kernel's
// ephemeral range and held until the round ends, so an adversary that grabs every port the
// kernel hands out gets none of it, while a listener with SO_REUSEADDR (as torch's TCPStore)
// binds it. The adversary runs in a network namespace of its own (ports are per namespace), so
// exhausting ports there disturbs nothing else on the machine.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "torch_master.h"

namespace trainctl::agent {
namespace {

constexpr int kSkip = 77;

// A socket bound to `port` on every IPv4 address (0: the kernel's pick); -1 when it fails.
int BindV4(int port, bool reuse, bool listening) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (reuse) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      (listening && listen(fd, 8) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

int PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// The adversary: binds port 0 until the kernel has none left to give; returns what it got
// (and keeps the sockets in `held`).
std::set<int> GrabEveryEphemeralPort(std::vector<int>* held) {
  std::set<int> ports;
  for (int fd; (fd = BindV4(0, false, false)) >= 0;) {
    held->push_back(fd);
    ports.insert(PortOf(fd));
  }
  return ports;
}

void CloseAll(std::vector<int>* fds) {
  for (int fd : *fds) close(fd);
  fds->clear();
}

// Runs `body` in a child process inside a new network namespace with loopback up and an
// ephemeral range of 100 ports; its exit code: 0 passed, kSkip cannot, else the failed check.
// `body` returns "" or what failed.
template <typename Body>
void InNetworkNamespace(Body body) {
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(report[0]);
    auto finish = [&](int code, const std::string& message) {
      (void)!write(report[1], message.data(), message.size());
      _exit(code);
    };
    if (unshare(CLONE_NEWNET) != 0) finish(kSkip, "cannot unshare the network namespace");
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ifreq lo{};
    std::strcpy(lo.ifr_name, "lo");
    lo.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &lo) != 0) finish(kSkip, "cannot bring loopback up");
    close(fd);
    {
      std::ofstream range("/proc/sys/net/ipv4/ip_local_port_range");
      range << "40000 40099\n";
      range.flush();
      if (!range) finish(kSkip, "cannot set the namespace's ephemeral port range");
    }
    const std::string failed = body();
    finish(failed.empty() ? 0 : 1, failed);
  }
  close(report[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = read(report[0], buffer, sizeof(buffer))) > 0;) message.append(buffer, n);
  close(report[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == kSkip) GTEST_SKIP() << message;
  EXPECT_EQ(WEXITSTATUS(status), 0) << message;
}

TEST(TorchrunMasterPortTest, TheAdversaryTakesAPortThatWasOnlyFoundFree) {
  // The control: a port found free by bind(0) and closed (how MASTER_PORT was chosen before)
  // is handed to the adversary.
  InNetworkNamespace([]() -> std::string {
    const int probe = BindV4(0, false, false);
    const int port = PortOf(probe);
    close(probe);
    std::vector<int> held;
    const std::set<int> grabbed = GrabEveryEphemeralPort(&held);
    const bool taken = grabbed.count(port) != 0;
    const int listener = BindV4(port, true, true);
    CloseAll(&held);
    if (!taken) return "the adversary did not get port " + std::to_string(port);
    if (listener >= 0) return "a listener could still bind the taken port";
    return "";
  });
}

TEST(TorchrunMasterPortTest, AHeldPortSurvivesTheAdversaryAndHandsOffToAReuseListener) {
  InNetworkNamespace([]() -> std::string {
    // Even a port inside the ephemeral range is safe while it is held.
    const int probe = BindV4(0, false, false);
    const int port = PortOf(probe);
    close(probe);
    auto hold = PortReservation::Hold(port);
    if (!hold.ok()) return "Hold: " + hold.status().message();
    std::vector<int> held;
    const std::set<int> grabbed = GrabEveryEphemeralPort(&held);
    std::string failed;
    if (grabbed.empty()) failed = "the adversary got no port at all";
    if (grabbed.count(port) != 0) failed = "the adversary got the held port";
    if (BindV4(port, false, false) >= 0) failed = "a bind without SO_REUSEADDR got the held port";
    if (PortReservation::Hold(port).ok()) failed = "a second reservation got the held port";
    const int listener = BindV4(port, true, true);  // what torch's TCPStore does
    if (listener < 0) failed = "rank 0's listener could not bind the held port";
    CloseAll(&held);
    return failed;
  });
}

TEST(TorchrunMasterPortTest, TheChosenPortIsOutsideTheEphemeralRange) {
  InNetworkNamespace([]() -> std::string {
    const auto [low, high] = EphemeralPortRange();
    if (low != 40000 || high != 40099) return "the namespace's range was not read";
    for (int i = 0; i < 50; ++i) {
      auto reservation = PortReservation::Reserve();
      if (!reservation.ok()) return reservation.status().message();
      const int port = reservation->port();
      if (port >= low && port <= high) return std::to_string(port) + " is ephemeral";
      if (port >= 29400 && port <= 29599) return std::to_string(port) + " is a usual port";
    }
    return "";
  });
}

TEST(TorchrunMasterPortTest, RankZerosTorchTcpStoreBindsTheHeldPort) {
  if (std::system("/usr/bin/python3 -c 'import torch.distributed' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "torch is not importable by /usr/bin/python3";
  }
  auto reservation = PortReservation::Reserve();
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  const std::string script =
      "import datetime, sys, torch.distributed as d\n"
      "port = int(sys.argv[1])\n"
      "s = d.TCPStore('127.0.0.1', port, 2, True, timeout=datetime.timedelta(seconds=30),"
      " wait_for_workers=False)\n"
      "c = d.TCPStore('127.0.0.1', port, 2, False, timeout=datetime.timedelta(seconds=30))\n"
      "c.set('k', 'v')\n"
      "sys.exit(0 if s.get('k') == b'v' else 1)\n";
  const std::string command =
      "/usr/bin/python3 -c \"" + script + "\" " + std::to_string(reservation->port()) + " 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << "port " << reservation->port();
  EXPECT_TRUE(reservation->held());
}

}  // namespace
}  // namespace trainctl::agent
