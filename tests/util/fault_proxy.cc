#include "tests/util/fault_proxy.h"

#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "asio.hpp"

namespace fjord::testing {

namespace {

using asio::ip::tcp;

// Larger frames are not Kafka's (socket.request.max.bytes is 100 MiB).
constexpr uint32_t kMaxFrameBytes = 512u << 20;

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

std::optional<HostPort> ParseHostPort(std::string text) {
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  uint32_t port;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return HostPort{text.substr(0, colon), static_cast<uint16_t>(port)};
}

// Both sides of one proxied connection. Used on the I/O thread only.
struct Connection {
  Connection(tcp::socket c, asio::io_context& io)
      : client(std::move(c)), server(io) {}
  // Closes both sides; with `reset` the client gets an RST, not a FIN.
  void Close(bool reset) {
    if (closed) return;
    closed = true;
    std::error_code ec;
    if (reset) client.set_option(asio::socket_base::linger(true, 0), ec);
    client.close(ec);
    server.close(ec);
  }
  tcp::socket client;
  tcp::socket server;
  bool closed = false;
};

// Reads one size-prefixed frame (the prefix included) into `frame`.
asio::awaitable<bool> ReadFrame(tcp::socket& s, std::vector<uint8_t>* frame) {
  std::error_code ec;
  uint8_t size_bytes[4];
  co_await asio::async_read(s, asio::buffer(size_bytes),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return false;
  const uint32_t size = (uint32_t{size_bytes[0]} << 24) |
                        (uint32_t{size_bytes[1]} << 16) |
                        (uint32_t{size_bytes[2]} << 8) | size_bytes[3];
  if (size > kMaxFrameBytes) co_return false;
  frame->resize(4 + size);
  std::copy(size_bytes, size_bytes + 4, frame->begin());
  co_await asio::async_read(s, asio::buffer(frame->data() + 4, size),
                            asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

}  // namespace

class FaultProxy::Impl {
 public:
  explicit Impl(const FaultOptions& faults)
      : faults_(faults), rng_(faults.seed) {}

  absl::Status Start(const std::string& host, uint16_t port) {
    std::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrFormat("'%s' is not an IP address", host));
    }
    tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrFormat(
          "fault proxy cannot listen on %s:%d: %s", host, port, ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(this), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      std::error_code ec;
      acceptor_.close(ec);
      for (const auto& c : connections_) c->Close(false);
      connections_.clear();
      io_.stop();
    });
    thread_.join();
  }

  void ResetAll() {
    asio::post(io_, [this] {
      for (const auto& c : connections_) {
        c->Close(true);
        Count(&FaultProxyStats::resets);
      }
      connections_.clear();
    });
  }

  uint16_t port() const { return port_; }

  void SetTarget(const std::string& host, uint16_t port) {
    std::lock_guard l(mu_);
    target_ = HostPort{host, port};
    target_file_.clear();
  }
  void SetTargetFile(const std::string& path) {
    std::lock_guard l(mu_);
    target_file_ = path;
  }
  void SetFaults(const FaultOptions& faults) {
    std::lock_guard l(mu_);
    faults_ = faults;
  }
  FaultProxyStats stats() const {
    std::lock_guard l(mu_);
    return stats_;
  }

 private:
  std::optional<HostPort> Target() {
    std::lock_guard l(mu_);
    if (target_file_.empty()) return target_;
    std::ifstream in(target_file_);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return ParseHostPort(line);
  }
  void Count(int64_t FaultProxyStats::*field) {
    std::lock_guard l(mu_);
    stats_.*field += 1;
  }
  // One scheduled-or-random decision; `seen` is this kind's count so far
  // (1-based, after counting the current one). REQUIRES: mu_ held.
  bool Decide(int64_t every, double probability, int64_t seen) {
    if (every > 0 && seen % every == 0) return true;
    if (probability > 0) {
      return std::uniform_real_distribution<double>(0, 1)(rng_) < probability;
    }
    return false;
  }
  bool ShouldReset() {
    std::lock_guard l(mu_);
    ++request_count_;
    if (request_count_ <= faults_.grace_requests) return false;
    return Decide(faults_.reset_every, faults_.reset_probability,
                  request_count_ - faults_.grace_requests);
  }
  bool ShouldDrop() {
    std::lock_guard l(mu_);
    ++response_count_;
    if (request_count_ <= faults_.grace_requests) return false;
    return Decide(faults_.drop_response_every,
                  faults_.drop_response_probability, response_count_);
  }
  int64_t DelayMs() {
    std::lock_guard l(mu_);
    if (faults_.delay_ms <= 0) return 0;
    if (faults_.delay_probability < 1 &&
        std::uniform_real_distribution<double>(0, 1)(rng_) >=
            faults_.delay_probability) {
      return 0;
    }
    return faults_.delay_ms;
  }

  static asio::awaitable<void> Accept(Impl* self) {
    for (;;) {
      std::error_code ec;
      tcp::socket socket(self->io_);
      co_await self->acceptor_.async_accept(
          socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (!self->acceptor_.is_open()) co_return;
        continue;
      }
      asio::co_spawn(self->io_, Serve(self, std::move(socket)), asio::detached);
    }
  }

  static asio::awaitable<void> Serve(Impl* self, tcp::socket client) {
    auto conn = std::make_shared<Connection>(std::move(client), self->io_);
    std::error_code ec;
    std::optional<HostPort> target = self->Target();
    tcp::endpoint endpoint;
    if (target) {
      auto address = asio::ip::make_address(target->host, ec);
      if (!ec) endpoint = tcp::endpoint(address, target->port);
    }
    if (target && !ec) {
      co_await conn->server.async_connect(
          endpoint, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!target || ec) {
      self->Count(&FaultProxyStats::refused);
      conn->Close(false);
      co_return;
    }
    conn->server.set_option(tcp::no_delay(true), ec);
    conn->client.set_option(tcp::no_delay(true), ec);
    self->connections_.insert(conn);
    self->Count(&FaultProxyStats::connections);
    asio::co_spawn(self->io_, Requests(self, conn), asio::detached);
    co_await Responses(self, conn);
    self->connections_.erase(conn);
  }

  static asio::awaitable<void> Requests(Impl* self,
                                        std::shared_ptr<Connection> conn) {
    std::vector<uint8_t> frame;
    std::error_code ec;
    while (!conn->closed) {
      if (!co_await ReadFrame(conn->client, &frame) || conn->closed) break;
      if (self->ShouldReset()) {
        self->Count(&FaultProxyStats::resets);
        conn->Close(true);
        break;
      }
      co_await asio::async_write(conn->server, asio::buffer(frame),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      self->Count(&FaultProxyStats::requests);
    }
    conn->Close(false);
  }

  static asio::awaitable<void> Responses(Impl* self,
                                         std::shared_ptr<Connection> conn) {
    std::vector<uint8_t> frame;
    std::error_code ec;
    asio::steady_timer timer(self->io_);
    while (!conn->closed) {
      if (!co_await ReadFrame(conn->server, &frame) || conn->closed) break;
      if (self->ShouldDrop()) {
        self->Count(&FaultProxyStats::dropped_responses);
        break;
      }
      if (int64_t ms = self->DelayMs(); ms > 0) {
        self->Count(&FaultProxyStats::delayed);
        timer.expires_after(std::chrono::milliseconds(ms));
        co_await timer.async_wait(
            asio::redirect_error(asio::use_awaitable, ec));
        if (conn->closed) break;
      }
      co_await asio::async_write(conn->client, asio::buffer(frame),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      self->Count(&FaultProxyStats::responses);
    }
    conn->Close(false);
  }

  // Coroutines still suspended when Stop() ends the loop are destroyed with
  // io_, the last member to go.
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
  uint16_t port_ = 0;
  // I/O thread only.
  std::set<std::shared_ptr<Connection>> connections_;

  mutable std::mutex mu_;  // guards what follows
  FaultOptions faults_;
  std::mt19937_64 rng_;
  std::optional<HostPort> target_;
  std::string target_file_;
  FaultProxyStats stats_;
  int64_t request_count_ = 0;
  int64_t response_count_ = 0;
};

FaultProxy::FaultProxy(const FaultOptions& faults)
    : impl_(std::make_unique<Impl>(faults)) {}

FaultProxy::~FaultProxy() { Stop(); }

absl::Status FaultProxy::Start(const std::string& host, uint16_t port) {
  return impl_->Start(host, port);
}
uint16_t FaultProxy::port() const { return impl_->port(); }
void FaultProxy::SetTarget(const std::string& host, uint16_t port) {
  impl_->SetTarget(host, port);
}
void FaultProxy::SetTargetFile(const std::string& path) {
  impl_->SetTargetFile(path);
}
void FaultProxy::SetFaults(const FaultOptions& faults) {
  impl_->SetFaults(faults);
}
FaultProxyStats FaultProxy::stats() const { return impl_->stats(); }
void FaultProxy::ResetAll() { impl_->ResetAll(); }
void FaultProxy::Stop() { impl_->Stop(); }

}  // namespace fjord::testing
