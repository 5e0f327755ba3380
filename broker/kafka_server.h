// KafkaServer: the Kafka-protocol listener. Each connection is one
// coroutine: it reads a size-prefixed frame, has the RequestHandler answer
// it, writes the response (record sets straight from the segment mappings,
// scatter-gather), and only then reads the next, so responses go out in
// request order.
//
// Threads: one io_context per thread, each run by exactly that thread
// (the caller's `io`, run by the caller, and `io_threads - 1` more that
// the server owns); connections are dealt to them in turn. A connection
// lives on one thread for its whole life, so its handlers never need a
// strand, and a handler that posts to its own context (a parked Fetch
// woken by an append on the same thread, a timer's completion) runs next
// on the same thread instead of waking another: with one io_context shared
// by all threads, Asio wakes an idle thread for each such post, and at low
// rates the threads spent more time handing work to each other than doing
// it. Thread-safe.
#ifndef FJORD_BROKER_KAFKA_SERVER_H_
#define FJORD_BROKER_KAFKA_SERVER_H_

#include <memory>
#include <set>
#include <thread>
#include <vector>

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
  // server. `io` runs the acceptor and a share of the connections; it must
  // be run by one thread only (the caller's). The server runs
  // `io_threads - 1` more io_contexts on threads of its own (io_threads
  // >= 1).
  KafkaServer(asio::io_context& io, const BrokerConfig& config,
              RequestHandler* handler, Metrics* metrics = nullptr,
              int io_threads = 1);
  // Stops the server's threads if Join was not called (connections still
  // open on them are dropped unanswered).
  ~KafkaServer();
  KafkaServer(const KafkaServer&) = delete;
  KafkaServer& operator=(const KafkaServer&) = delete;

  // Binds and starts accepting. kUnavailable if the address is taken.
  absl::Status Start();
  // The bound port (useful with port 0).
  uint16_t port() const { return port_; }
  // Stops accepting and ends every connection after its in-flight request
  // has been answered; the server's threads end once their connections
  // have.
  void Stop();
  // Waits for the server's threads to end (after Stop). Not from a thread
  // running one of the server's io_contexts.
  void Join();
  int connections() const;

 private:
  using Socket = asio::ip::tcp::socket;
  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Session(std::shared_ptr<Socket> socket);

  // The io_context the next accepted connection goes to.
  asio::io_context& NextContext();

  asio::io_context& io_;
  const int io_threads_;
  const BrokerConfig& config_;
  RequestHandler* const handler_;
  Metrics* const metrics_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  mutable absl::Mutex mu_;
  std::set<std::shared_ptr<Socket>> sockets_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The server's own io_contexts, each kept running (the guard) until
  // Stop, and their threads. Declared last: on destruction the threads
  // are joined and the contexts (with any connection left on them) go
  // before the members those connections use.
  using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<WorkGuard> guards_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
  size_t next_context_ = 0;  // accept loop only
};

}  // namespace fjord::broker

#endif  // FJORD_BROKER_KAFKA_SERVER_H_
