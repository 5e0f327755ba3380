// BrokerProcess: a real fjord-broker child process for end-to-end tests, the
// one way every test suite starts a broker. It listens on 127.0.0.1 with
// port 0 for Kafka, gRPC and /metrics (unless a Kafka port is given), and the
// ports it chose are read from its log, as tests/broker/kcat_test.sh does.
// It can be stopped cleanly (SIGTERM), killed (SIGKILL, a crash) and
// restarted on the same data directory and Kafka port. Every process is
// stopped by its PID; the destructor kills one that still runs.
//
// Not thread-safe: one thread at a time may call a BrokerProcess (a test may
// hand it to another thread, e.g. one that kills and restarts it).
#ifndef FJORD_TESTS_UTIL_BROKER_PROCESS_H_
#define FJORD_TESTS_UTIL_BROKER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fjord::testing {

// The fjord-broker binary: $FJORD_BROKER when it is set (CTest sets it),
// else the one this build tree made; kNotFound when there is neither.
absl::StatusOr<std::string> BrokerBinary();

class BrokerProcess {
 public:
  struct Options {
    std::string binary;    // path to fjord-broker; empty: BrokerBinary()
    std::string data_dir;  // created by the broker if missing
    // Extra arguments, e.g. {"--set", "auto.create.topics.enable=false"}.
    std::vector<std::string> args;
    // 0: a free port the kernel picks. Restart() reuses the previous one.
    int kafka_port = 0;
    int start_timeout_ms = 30000;
  };

  // Starts the broker and waits until it logs its Kafka, gRPC and /metrics
  // ports; the error carries the end of its log.
  static absl::StatusOr<std::unique_ptr<BrokerProcess>> Start(Options options);
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // SIGTERM, then waits (up to 30 s) for a clean exit with status 0; the
  // error carries the end of the log.
  absl::Status Stop();
  // SIGKILL and reap: a crash. Nothing if it is not running.
  void Kill();
  // Starts it again on the same data directory, Kafka and gRPC ports, so
  // clients (and consumer groups' coordinator connections) reconnect to the
  // same addresses (after Stop or Kill); /metrics gets a new port. Retries
  // for a few seconds while a port is still held.
  absl::Status Restart();
  bool running() const { return pid_ > 0; }

  pid_t pid() const { return pid_; }
  int kafka_port() const { return kafka_port_; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  std::string bootstrap() const;  // "127.0.0.1:<kafka port>"
  std::string admin() const;      // "127.0.0.1:<grpc port>"
  // Each run (Start, then each Restart) logs to a file of its own,
  // <data_dir>.broker-<run>.log, so the log of a run that was killed stays.
  const std::string& log_path() const { return log_path_; }
  // The current run's log, whole or its last `bytes`.
  std::string Log() const;
  std::string LogTail(size_t bytes = 2000) const;

 private:
  explicit BrokerProcess(Options options) : options_(std::move(options)) {}
  absl::Status Launch();

  Options options_;
  int runs_ = 0;
  std::string log_path_;
  pid_t pid_ = -1;
  int kafka_port_ = 0;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

// Starts a broker, failing the current Catch2 test (with the broker's
// status and log) if it does not come up.
std::unique_ptr<BrokerProcess> MustStartBroker(BrokerProcess::Options options);

}  // namespace fjord::testing

#endif  // FJORD_TESTS_UTIL_BROKER_PROCESS_H_
