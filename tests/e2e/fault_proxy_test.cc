// The fault-injecting proxy itself, against an in-process echo server that
// answers each Kafka-style frame with the same frame: frames pass intact,
// and dropped responses, resets and delays happen when scheduled.
#include "tests/util/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fjord::testing {
namespace {

bool ReadAllBytes(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteAllBytes(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t w = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

std::string Frame(const std::string& body) {
  std::string f(4, '\0');
  uint32_t n = htonl(static_cast<uint32_t>(body.size()));
  std::memcpy(f.data(), &n, 4);
  return f + body;
}

// nullopt at EOF or on an error (errno kept).
std::optional<std::string> ReadFrame(int fd) {
  char size[4];
  if (!ReadAllBytes(fd, size, 4)) return std::nullopt;
  uint32_t n;
  std::memcpy(&n, size, 4);
  std::string body(ntohl(n), '\0');
  if (!ReadAllBytes(fd, body.data(), body.size())) return std::nullopt;
  return body;
}

int Listen(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// Echoes every frame back; remembers what it received.
class EchoServer {
 public:
  EchoServer() {
    fd_ = Listen(&port_);
    thread_ = std::thread([this] {
      for (;;) {
        int c = accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::lock_guard l(mu_);
        if (stopping_) {
          close(c);
          return;
        }
        clients_.push_back(c);
        workers_.emplace_back([this, c] {
          while (auto f = ReadFrame(c)) {
            {
              std::lock_guard l(mu_);
              received_.push_back(*f);
            }
            if (!WriteAllBytes(c, Frame(*f))) break;
          }
        });
      }
    });
  }
  ~EchoServer() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
      for (int c : clients_) shutdown(c, SHUT_RDWR);
    }
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (auto& w : workers_) w.join();
    for (int c : clients_) close(c);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> received() {
    std::lock_guard l(mu_);
    return received_;
  }

 private:
  int fd_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  bool stopping_ = false;
  std::vector<int> clients_;
  std::vector<std::thread> workers_;
  std::vector<std::string> received_;
};

TEST_CASE("FaultProxy: without faults every frame passes through intact",
          "[e2e][proxy]") {
  EchoServer echo;
  FaultProxy proxy;
  REQUIRE(proxy.Start().ok());
  proxy.SetTarget("127.0.0.1", echo.port());
  int c = Connect(proxy.port());
  std::string big(200000, 'b');
  for (int i = 0; i < 50; i++) {
    std::string body = "request-" + std::to_string(i) + (i == 7 ? big : "");
    REQUIRE(WriteAllBytes(c, Frame(body)));
    auto back = ReadFrame(c);
    REQUIRE(back.has_value());
    CHECK(*back == body);
  }
  close(c);
  // The proxy counts a response once its write completes, which may be just
  // after the client has read it.
  auto st = proxy.stats();
  for (int i = 0; i < 200 && st.responses < 50; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    st = proxy.stats();
  }
  CHECK(st.connections == 1);
  CHECK(st.requests == 50);
  CHECK(st.responses == 50);
  CHECK(st.dropped_responses + st.resets + st.delayed == 0);
}

TEST_CASE(
    "FaultProxy: a dropped response was delivered to the server but never "
    "reaches the client",
    "[e2e][proxy]") {
  EchoServer echo;
  FaultOptions f;
  f.drop_response_every = 3;
  FaultProxy proxy(f);
  REQUIRE(proxy.Start().ok());
  proxy.SetTarget("127.0.0.1", echo.port());
  int c = Connect(proxy.port());
  for (int i = 1; i <= 2; i++) {
    REQUIRE(WriteAllBytes(c, Frame("r" + std::to_string(i))));
    REQUIRE(ReadFrame(c).has_value());
  }
  REQUIRE(WriteAllBytes(c, Frame("r3")));
  CHECK(!ReadFrame(c).has_value());  // closed instead of answered
  close(c);
  auto got = echo.received();
  REQUIRE(got.size() == 3);
  CHECK(got[2] == "r3");
  CHECK(proxy.stats().dropped_responses == 1);
  // A new connection works; the schedule continues across connections.
  c = Connect(proxy.port());
  REQUIRE(WriteAllBytes(c, Frame("r4")));
  CHECK(ReadFrame(c) == std::optional<std::string>("r4"));
  close(c);
}

TEST_CASE("FaultProxy: a reset connection never forwards its request",
          "[e2e][proxy]") {
  EchoServer echo;
  FaultOptions f;
  f.reset_every = 2;
  FaultProxy proxy(f);
  REQUIRE(proxy.Start().ok());
  proxy.SetTarget("127.0.0.1", echo.port());
  int c = Connect(proxy.port());
  REQUIRE(WriteAllBytes(c, Frame("a")));
  REQUIRE(ReadFrame(c).has_value());
  REQUIRE(WriteAllBytes(c, Frame("b")));
  errno = 0;
  CHECK(!ReadFrame(c).has_value());
  CHECK(errno == ECONNRESET);
  close(c);
  CHECK(echo.received() == std::vector<std::string>{"a"});
  CHECK(proxy.stats().resets == 1);
}

TEST_CASE(
    "FaultProxy: delays hold responses back; grace requests and random "
    "faults follow the options",
    "[e2e][proxy]") {
  EchoServer echo;
  FaultOptions f;
  f.delay_ms = 150;
  FaultProxy proxy(f);
  REQUIRE(proxy.Start().ok());
  proxy.SetTarget("127.0.0.1", echo.port());
  int c = Connect(proxy.port());
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(WriteAllBytes(c, Frame("slow")));
  REQUIRE(ReadFrame(c).has_value());
  CHECK(std::chrono::steady_clock::now() - t0 >=
        std::chrono::milliseconds(140));
  CHECK(proxy.stats().delayed == 1);
  // Random drops with a grace period: the first requests always pass.
  FaultOptions g;
  g.grace_requests = 5;
  g.drop_response_probability = 1.0;
  proxy.SetFaults(g);
  for (int i = 0; i < 4; i++) {  // requests 2..5 of the proxy's life
    REQUIRE(WriteAllBytes(c, Frame("ok")));
    REQUIRE(ReadFrame(c).has_value());
  }
  REQUIRE(WriteAllBytes(c, Frame("dropped")));
  CHECK(!ReadFrame(c).has_value());
  close(c);
}

TEST_CASE(
    "FaultProxy: with no reachable target a connection is closed; a target "
    "file moves it",
    "[e2e][proxy]") {
  FaultProxy proxy;
  REQUIRE(proxy.Start().ok());
  int c = Connect(proxy.port());
  REQUIRE(WriteAllBytes(c, Frame("x")));
  CHECK(!ReadFrame(c).has_value());
  close(c);
  CHECK(proxy.stats().refused == 1);
  EchoServer echo;
  char path[] = "/tmp/fjord-proxy-target-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string target = "127.0.0.1:" + std::to_string(echo.port()) + "\n";
  REQUIRE(write(fd, target.data(), target.size()) ==
          static_cast<ssize_t>(target.size()));
  close(fd);
  proxy.SetTargetFile(path);
  c = Connect(proxy.port());
  REQUIRE(WriteAllBytes(c, Frame("y")));
  CHECK(ReadFrame(c) == std::optional<std::string>("y"));
  close(c);
  unlink(path);
}

}  // namespace
}  // namespace fjord::testing
