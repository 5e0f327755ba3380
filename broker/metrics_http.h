// MetricsHttpServer: serves GET /metrics (Prometheus text format) over HTTP
// with cpp-httplib on its own thread. Thread-safe.
#ifndef FJORD_BROKER_METRICS_HTTP_H_
#define FJORD_BROKER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace httplib {
class Server;
}

namespace fjord::broker {

class MetricsHttpServer {
 public:
  // `render` produces the page; called on the HTTP thread.
  explicit MetricsHttpServer(std::function<std::string()> render);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds host:port (0 picks one) and starts serving. kUnavailable if the
  // address cannot be bound.
  absl::Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

 private:
  std::function<std::string()> render_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_METRICS_HTTP_H_
