#include "tests/util/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_format.h"
#include "catch2/catch.hpp"

namespace fjord::testing {

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int FindPort(const std::string& log, const std::regex& pattern) {
  std::smatch m;
  if (std::regex_search(log, m, pattern)) return std::stoi(m[1].str());
  return 0;
}

}  // namespace

absl::StatusOr<std::string> BrokerBinary() {
  if (const char* path = std::getenv("FJORD_BROKER");
      path != nullptr && *path != '\0') {
    return std::string(path);
  }
#ifdef FJORD_DEFAULT_BROKER_PATH
  return std::string(FJORD_DEFAULT_BROKER_PATH);
#else
  return absl::NotFoundError(
      "FJORD_BROKER is not set: it must name the fjord-broker binary (ctest "
      "sets it)");
#endif
}

absl::StatusOr<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(
    Options options) {
  if (options.binary.empty()) {
    absl::StatusOr<std::string> binary = BrokerBinary();
    if (!binary.ok()) return binary.status();
    options.binary = *binary;
  }
  std::unique_ptr<BrokerProcess> b(new BrokerProcess(std::move(options)));
  absl::Status s = b->Launch();
  if (!s.ok()) return s;
  return b;
}

std::unique_ptr<BrokerProcess> MustStartBroker(BrokerProcess::Options options) {
  auto started = BrokerProcess::Start(std::move(options));
  INFO(started.status().ToString());
  REQUIRE(started.ok());
  return *std::move(started);
}

BrokerProcess::~BrokerProcess() { Kill(); }

std::string BrokerProcess::bootstrap() const {
  return absl::StrFormat("127.0.0.1:%d", kafka_port_);
}

std::string BrokerProcess::admin() const {
  return absl::StrFormat("127.0.0.1:%d", grpc_port_);
}

std::string BrokerProcess::Log() const { return ReadAll(log_path_); }

std::string BrokerProcess::LogTail(size_t bytes) const {
  std::string log = Log();
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

absl::Status BrokerProcess::Launch() {
  log_path_ = absl::StrFormat("%s.broker-%d.log", options_.data_dir, ++runs_);
  const int port = kafka_port_ > 0 ? kafka_port_ : options_.kafka_port;
  std::vector<std::string> args = {options_.binary,
                                   "--data-dir",
                                   options_.data_dir,
                                   "--kafka-addr",
                                   absl::StrFormat("127.0.0.1:%d", port),
                                   "--grpc-addr",
                                   absl::StrFormat("127.0.0.1:%d", grpc_port_),
                                   "--metrics-addr",
                                   "127.0.0.1:0"};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  // Everything the child uses is made before fork: between fork and exec a
  // child of a multi-threaded process may only make async-signal-safe calls
  // (no allocation).
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const long max_fd = std::min<long>(::sysconf(_SC_OPEN_MAX), 65536);
  int fd =
      ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrFormat("cannot open %s", log_path_));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    // Nothing of the test process (its sockets, a proxy's listener) leaks
    // into the broker, where it would outlive the test's own close.
    if (::close_range(3, ~0U, 0) != 0) {
      for (long i = 3; i < max_fd; i++) ::close(static_cast<int>(i));
    }
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fd);
  pid_ = pid;
  kafka_port_ = grpc_port_ = metrics_port_ = 0;
  const std::regex kafka(R"(serving Kafka on 127\.0\.0\.1:(\d+))");
  const std::regex grpc(
      R"(serving gRPC admin and coordinator on 127\.0\.0\.1:(\d+))");
  const std::regex metrics(R"(serving /metrics on http://127\.0\.0\.1:(\d+))");
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(options_.start_timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string log = Log();
    const int k = FindPort(log, kafka);
    const int g = FindPort(log, grpc);
    const int m = FindPort(log, metrics);
    if (k > 0 && g > 0 && m > 0) {
      kafka_port_ = k;
      grpc_port_ = g;
      metrics_port_ = m;
      return absl::OkStatus();
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      kafka_port_ = port;  // so that Restart() tries the same one again
      return absl::InternalError(absl::StrFormat(
          "fjord-broker exited at start (status %d):\n%s", status, LogTail()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  kafka_port_ = port;
  return absl::DeadlineExceededError(
      absl::StrFormat("fjord-broker did not come up within %d ms:\n%s",
                      options_.start_timeout_ms, LogTail()));
}

absl::Status BrokerProcess::Stop() {
  if (pid_ <= 0) return absl::OkStatus();
  ::kill(pid_, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      Kill();
      return absl::DeadlineExceededError(absl::StrFormat(
          "fjord-broker did not stop within 30 s of SIGTERM:\n%s", LogTail()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrFormat(
        "fjord-broker exited with status %d:\n%s", status, LogTail()));
  }
  return absl::OkStatus();
}

void BrokerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

absl::Status BrokerProcess::Restart() {
  if (pid_ > 0) return absl::FailedPreconditionError("still running");
  // The Kafka and gRPC ports are reused so clients (and consumer groups'
  // coordinator connections) reconnect to the same addresses; /metrics gets
  // a new one.
  const int previous = kafka_port_;
  const int previous_grpc = grpc_port_;
  absl::Status last;
  for (int attempt = 0; attempt < 50; attempt++) {
    kafka_port_ = previous;
    grpc_port_ = previous_grpc;
    last = Launch();
    if (last.ok()) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return last;
}

}  // namespace fjord::testing
