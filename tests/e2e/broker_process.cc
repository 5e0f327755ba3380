#include "tests/e2e/broker_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace fjord::testing {

std::string BrokerBinary() {
  const char* path = std::getenv("FJORD_BROKER");
  if (path == nullptr || *path == '\0') {
    FAIL(
        "FJORD_BROKER is not set: it must name the fjord-broker binary "
        "(ctest sets it)");
  }
  return path;
}

BrokerProcess::BrokerProcess(std::string data_dir,
                             std::vector<std::string> args)
    : data_dir_(std::move(data_dir)), args_(std::move(args)) {}

BrokerProcess::~BrokerProcess() {
  if (pid_ > 0) Kill9();
}

std::string BrokerProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void BrokerProcess::Start() {
  REQUIRE(pid_ <= 0);
  const std::string binary = BrokerBinary();
  log_path_ = data_dir_ + ".broker-" + std::to_string(++runs_) + ".log";
  std::vector<std::string> argv = {
      binary,         "--data-dir",     data_dir_,
      "--kafka-addr", "127.0.0.1:0",    "--grpc-addr",
      "127.0.0.1:0",  "--metrics-addr", "127.0.0.1:0"};
  argv.insert(argv.end(), args_.begin(), args_.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const int max_fd =
      static_cast<int>(std::min<long>(sysconf(_SC_OPEN_MAX), 65536));
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    // Nothing of the test process (its sockets) leaks into the broker.
    for (int i = 3; i < max_fd; i++) close(i);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  pid_ = pid;
  kafka_port_ = metrics_port_ = 0;
  const std::regex kafka(R"(serving Kafka on 127\.0\.0\.1:(\d+))");
  const std::regex metrics(R"(serving /metrics on http://127\.0\.0\.1:(\d+))");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("fjord-broker exited at start:\n" << Log());
    }
    const std::string log = Log();
    std::smatch m;
    if (kafka_port_ == 0 && std::regex_search(log, m, kafka)) {
      kafka_port_ = static_cast<uint16_t>(std::stoi(m[1]));
    }
    if (metrics_port_ == 0 && std::regex_search(log, m, metrics)) {
      metrics_port_ = static_cast<uint16_t>(std::stoi(m[1]));
    }
    if (kafka_port_ != 0 && metrics_port_ != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill9();
  FAIL("fjord-broker did not come up within 30 s");
}

void BrokerProcess::Kill9() {
  REQUIRE(pid_ > 0);
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void BrokerProcess::Stop() {
  REQUIRE(pid_ > 0);
  kill(pid_, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() >= deadline) {
      Kill9();
      FAIL("fjord-broker did not stop within 30 s of SIGTERM");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  INFO(Log());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
}

std::string HttpGet(uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string req =
        "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[16384];
      for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
    }
  }
  close(fd);
  const size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

double MetricValue(const std::string& metrics, const std::string& name) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) {
      return std::stod(line.substr(name.size() + 1));
    }
  }
  return -1;
}

}  // namespace fjord::testing
