#include "tests/util/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_format.h"

namespace fjord::testing {

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int FindPort(const std::string& log, const std::string& pattern) {
  std::smatch m;
  if (std::regex_search(log, m, std::regex(pattern))) {
    return std::stoi(m[1].str());
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrokerProcess>> BrokerProcess::Start(
    Options options) {
  std::unique_ptr<BrokerProcess> b(new BrokerProcess(std::move(options)));
  absl::Status s = b->Launch();
  if (!s.ok()) return s;
  return b;
}

BrokerProcess::~BrokerProcess() { Kill(); }

std::string BrokerProcess::bootstrap() const {
  return absl::StrFormat("127.0.0.1:%d", kafka_port_);
}

std::string BrokerProcess::admin() const {
  return absl::StrFormat("127.0.0.1:%d", grpc_port_);
}

std::string BrokerProcess::LogTail(size_t bytes) const {
  std::string log = ReadAll(log_path_);
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

absl::Status BrokerProcess::Launch() {
  log_path_ = options_.data_dir + ".broker.log";
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
  // Truncate the log: ports are parsed from this run's lines only.
  int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
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
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fd);
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(options_.start_timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = ReadAll(log_path_);
    int k = FindPort(log, R"(serving Kafka on 127\.0\.0\.1:(\d+))");
    int g = FindPort(log, R"(serving gRPC [a-z ]+ on 127\.0\.0\.1:(\d+))");
    int m = FindPort(log, R"(serving /metrics on http://127\.0\.0\.1:(\d+))");
    if (k > 0 && g > 0 && m > 0) {
      kafka_port_ = k;
      grpc_port_ = g;
      metrics_port_ = m;
      return absl::OkStatus();
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrFormat("fjord-broker exited at start:\n%s", LogTail()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return absl::DeadlineExceededError(
      absl::StrFormat("fjord-broker did not come up:\n%s", LogTail()));
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
      return absl::DeadlineExceededError("fjord-broker ignored SIGTERM");
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
