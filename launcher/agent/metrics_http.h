// A minimal HTTP/1.1 server for Prometheus scrapes: GET /metrics answers the text exposition
// from a callback; anything else is 404 or 405. One thread, one request per connection: a
// scrape every few seconds needs nothing more, and it keeps cpprest out of the agent's path.
#ifndef TRAINCTL_AGENT_METRICS_HTTP_H_
#define TRAINCTL_AGENT_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "train/status.h"

namespace trainctl::agent {

class MetricsHttpServer {
 public:
  // Listens on host:port (port 0: an ephemeral one, see port()).
  static train::Result<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& host, int port, std::function<std::string()> exposition);
  ~MetricsHttpServer();  // stops serving
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsHttpServer() = default;
  void Serve();
  void Answer(int client);

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::function<std::string()> exposition_;
  std::thread thread_;
};

}  // namespace trainctl::agent

#endif  // TRAINCTL_AGENT_METRICS_HTTP_H_
