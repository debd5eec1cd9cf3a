// The store under load in a process of its own, as on a job's store host: its descriptors,
// threads and CPU time are not the load generator's.
#ifndef BENCH_STORE_PROCESS_H_
#define BENCH_STORE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "train/status.h"

namespace bench {

// Runs `program --serve-store` with the token on its stdin; the child serves a job's store
// (trainctl's limits) on a free loopback port until its stdin closes.
class StoreProcess {
 public:
  static train::Result<std::unique_ptr<StoreProcess>> Start(const std::string& program,
                                                            const std::string& token);
  ~StoreProcess();  // closes the child's stdin and waits for it
  StoreProcess(const StoreProcess&) = delete;
  StoreProcess& operator=(const StoreProcess&) = delete;
  int port() const { return port_; }
  // CPU seconds the store process has used so far (user and system), from /proc.
  double CpuSeconds() const;

 private:
  StoreProcess(pid_t pid, int stdin_fd, int port) : pid_(pid), stdin_fd_(stdin_fd), port_(port) {}
  pid_t pid_;
  int stdin_fd_;
  int port_;
};

// The child's side: reads the token from stdin, serves, prints "port N", and returns when stdin
// closes (the exit status for main).
int ServeStore();

}  // namespace bench

#endif  // BENCH_STORE_PROCESS_H_
