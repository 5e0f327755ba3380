// KafkaServer: the Kafka-protocol listener. Each connection is one
// coroutine on its own strand: it reads a size-prefixed frame, has the
// RequestHandler answer it, writes the response (record sets straight from
// the segment mappings, scatter-gather), and only then reads the next, so
// responses go out in request order. Connections run concurrently on every
// thread that runs the io_context. Thread-safe.
#ifndef FJORD_BROKER_KAFKA_SERVER_H_
#define FJORD_BROKER_KAFKA_SERVER_H_

#include <memory>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "asio.hpp"
#include "broker/broker_config.h"
#include "broker/metrics.h"
#include "broker/request_handler.h"

namespace fjord::broker {

class KafkaServer {
 public:
  // `io`, `config`, `handler` and `metrics` (may be null) must outlive the
  // server.
  KafkaServer(asio::io_context& io, const BrokerConfig& config,
              RequestHandler* handler, Metrics* metrics = nullptr);
  KafkaServer(const KafkaServer&) = delete;
  KafkaServer& operator=(const KafkaServer&) = delete;

  // Binds and starts accepting. kUnavailable if the address is taken.
  absl::Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const { return port_; }
  // Stops accepting and ends every connection after its in-flight request
  // has been answered.
  void Stop();
  int connections() const;

 private:
  using Socket = asio::ip::tcp::socket;
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Session(std::shared_ptr<Socket> socket);

  asio::io_context& io_;
  const BrokerConfig& config_;
  RequestHandler* const handler_;
  Metrics* const metrics_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<Socket>> sockets_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_KAFKA_SERVER_H_
