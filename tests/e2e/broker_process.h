// BrokerProcess: a real fjord-broker child process for end-to-end tests. It
// listens on 127.0.0.1 port 0 (Kafka, gRPC and /metrics); the chosen ports
// are read from its log, as tests/broker/kcat_test.sh does. The process is
// always stopped by its pid (kill -9 when the object goes). Not
// thread-safe.
#ifndef FJORD_TESTS_E2E_BROKER_PROCESS_H_
#define FJORD_TESTS_E2E_BROKER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fjord::testing {

// The fjord-broker binary: $FJORD_BROKER (CTest sets it). Fails the test
// when it is not set.
std::string BrokerBinary();

class BrokerProcess {
 public:
  // `args` are added to the command line (e.g. "--set", "num.partitions=6").
  BrokerProcess(std::string data_dir, std::vector<std::string> args);
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;
  ~BrokerProcess();

  // Starts it and waits (up to 30 s) until it serves Kafka and /metrics.
  void Start();
  // SIGKILL, then reaps it.
  void Kill9();
  // SIGTERM; requires a clean exit (status 0) within 30 s.
  void Stop();
  bool running() const { return pid_ > 0; }

  uint16_t kafka_port() const { return kafka_port_; }
  uint16_t metrics_port() const { return metrics_port_; }
  // The current run's log.
  std::string Log() const;

 private:
  const std::string data_dir_;
  const std::vector<std::string> args_;
  int runs_ = 0;
  std::string log_path_;
  pid_t pid_ = -1;
  uint16_t kafka_port_ = 0;
  uint16_t metrics_port_ = 0;
};

// GET http://127.0.0.1:<port><path>; the body, or "" on failure.
std::string HttpGet(uint16_t port, const std::string& path);

// The value of an unlabelled Prometheus sample `name` in `metrics`, or -1.
double MetricValue(const std::string& metrics, const std::string& name);

}  // namespace fjord::testing

#endif  // FJORD_TESTS_E2E_BROKER_PROCESS_H_
