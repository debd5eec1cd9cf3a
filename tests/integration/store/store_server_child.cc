// A StoreServer alone in a process, so that a test can limit its memory and watch it:
//
//   store_server_child TOKEN HEADROOM_MIB
//
// Serves on a free loopback port, limits its own address space to what it uses once serving
// plus HEADROOM_MIB (RLIMIT_AS), prints "port N" and serves until its stdin closes. A server
// that buffered what clients send would hit the limit and abort (std::bad_alloc).
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "train/store.h"

namespace {

// The process's address space now (VmSize), in bytes.
long long AddressSpaceBytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmSize:", 0) == 0) return std::atoll(line.c_str() + 7) * 1024;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: store_server_child TOKEN HEADROOM_MIB\n");
    return 2;
  }
  // One malloc arena: threads that would each reserve 64 MiB of address space share one.
  mallopt(M_ARENA_MAX, 1);
  train::StoreServerOptions options;
  options.token = argv[1];
  auto server = train::StoreServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "store_server_child: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const long long headroom = std::atoll(argv[2]) << 20;
  const rlimit limit{static_cast<rlim_t>(AddressSpaceBytes() + headroom),
                     static_cast<rlim_t>(AddressSpaceBytes() + headroom)};
  if (setrlimit(RLIMIT_AS, &limit) != 0) {
    std::perror("store_server_child: setrlimit");
    return 1;
  }
  std::printf("port %d\n", (*server)->port());
  std::fflush(stdout);
  char byte;
  while (read(STDIN_FILENO, &byte, 1) > 0) {
  }
  (*server)->Stop();
  return 0;
}
