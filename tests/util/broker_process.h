// BrokerProcess: a real build/bin/fjord-broker child process for
// end-to-end tests. It listens on 127.0.0.1 with port 0 for Kafka, gRPC and
// /metrics, and the ports it chose are read from its log. The destructor
// kills it (SIGKILL) if it still runs; every process is stopped by its PID.
// Not thread-safe.
#ifndef FJORD_TESTS_UTIL_BROKER_PROCESS_H_
#define FJORD_TESTS_UTIL_BROKER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fjord::testing {

class BrokerProcess {
 public:
  struct Options {
    std::string binary;    // path to fjord-broker
    std::string data_dir;  // created by the broker if missing
    // Extra arguments, e.g. {"--set", "auto.create.topics.enable=false"}.
    std::vector<std::string> args;
    // 0: a free port the kernel picks. Restart() reuses the previous one.
    int kafka_port = 0;
    int start_timeout_ms = 15000;
  };

  // Starts the broker and waits until it logs its Kafka, gRPC and /metrics
  // ports; the error carries the end of its log.
  static absl::StatusOr<std::unique_ptr<BrokerProcess>> Start(Options options);
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // SIGTERM, then waits (up to 30 s) for a clean exit with status 0.
  absl::Status Stop();
  // SIGKILL and reap: a crash.
  void Kill();
  // Starts it again on the same data directory, Kafka and gRPC ports
  // (after Stop or Kill).
  absl::Status Restart();
  bool running() const { return pid_ > 0; }

  pid_t pid() const { return pid_; }
  int kafka_port() const { return kafka_port_; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string bootstrap() const;  // "127.0.0.1:<kafka port>"
  std::string admin() const;      // "127.0.0.1:<grpc port>"
  const std::string& log_path() const { return log_path_; }
  std::string LogTail(size_t bytes = 2000) const;

 private:
  explicit BrokerProcess(Options options) : options_(std::move(options)) {}
  absl::Status Launch();

  Options options_;
  std::string log_path_;
  pid_t pid_ = -1;
  int kafka_port_ = 0;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace fjord::testing

#endif  // FJORD_TESTS_UTIL_BROKER_PROCESS_H_
