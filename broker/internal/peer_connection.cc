#include "broker/internal/peer_connection.h"

#include "absl/strings/str_format.h"
#include "log/internal/endian.h"

namespace fjord::broker::internal {

namespace {
// A response larger than this is not one fjord sends (fetch responses are
// bounded by the request's max_bytes, 64 MiB at most here).
constexpr int32_t kMaxResponseBytes = 128 << 20;
}  // namespace

PeerConnection::~PeerConnection() {
  watchdog_->socket = nullptr;
  std::error_code ignored;
  timer_.cancel();
  socket_.close(ignored);
}

void PeerConnection::Arm(std::chrono::milliseconds timeout) {
  Watchdog& w = *watchdog_;
  w.timed_out = false;
  const uint64_t armed = ++w.armed;
  timer_.expires_after(timeout);
  // The handler reaches the socket through the shared watchdog state: a
  // handler that fired just as its operation finished (stale), or after
  // this connection is gone, does nothing.
  timer_.async_wait([w = watchdog_, armed](const std::error_code& ec) {
    if (ec || armed != w->armed || w->socket == nullptr) return;
    w->timed_out = true;
    std::error_code ignored;
    w->socket->close(ignored);
  });
}

void PeerConnection::Disarm() {
  ++watchdog_->armed;
  timer_.cancel();
}

void PeerConnection::Close() {
  std::error_code ignored;
  socket_.close(ignored);
  Disarm();
}

asio::awaitable<absl::Status> PeerConnection::Connect(
    std::string host, uint16_t port, std::chrono::milliseconds timeout) {
  Close();
  peer_ = absl::StrFormat("%s:%d", host, port);
  std::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  asio::ip::tcp::endpoint endpoint;
  if (ec) {
    asio::ip::tcp::resolver resolver(socket_.get_executor());
    auto found = co_await resolver.async_resolve(
        host, std::to_string(port),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec || found.empty()) {
      co_return absl::UnavailableError(absl::StrFormat(
          "cannot resolve %s: %s", peer_, ec ? ec.message() : "no address"));
    }
    endpoint = *found.begin();
  } else {
    endpoint = asio::ip::tcp::endpoint(address, port);
  }
  Arm(timeout);
  co_await socket_.async_connect(endpoint,
                                 asio::redirect_error(asio::use_awaitable, ec));
  Disarm();
  if (ec || watchdog_->timed_out) {
    Close();
    co_return absl::UnavailableError(
        absl::StrFormat("cannot connect to %s: %s", peer_,
                        watchdog_->timed_out ? "timed out" : ec.message()));
  }
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> PeerConnection::Call(
    const std::string& request, int32_t correlation_id,
    std::chrono::milliseconds timeout, std::vector<uint8_t>* body) {
  if (!socket_.is_open()) {
    co_return absl::UnavailableError(
        absl::StrFormat("not connected to %s", peer_));
  }
  auto fail = [&](const std::error_code& ec) {
    const bool timed_out = watchdog_->timed_out;
    Close();
    if (timed_out) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "%s did not answer within %d ms", peer_, timeout.count()));
    }
    return absl::UnavailableError(
        absl::StrFormat("connection to %s: %s", peer_, ec.message()));
  };
  std::error_code ec;
  Arm(timeout);
  co_await asio::async_write(socket_, asio::buffer(request),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    Disarm();
    co_return fail(ec);
  }
  uint8_t head[8];
  co_await asio::async_read(socket_, asio::buffer(head),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    Disarm();
    co_return fail(ec);
  }
  const int32_t size = log::internal::LoadBE<int32_t>(head);
  const int32_t id = log::internal::LoadBE<int32_t>(head + 4);
  if (size < 4 || size > kMaxResponseBytes || id != correlation_id) {
    Disarm();
    Close();
    co_return absl::DataLossError(absl::StrFormat(
        "%s answered with a malformed response (size %d, correlation id %d, "
        "expected %d)",
        peer_, size, id, correlation_id));
  }
  body->resize(static_cast<size_t>(size - 4));
  co_await asio::async_read(socket_, asio::buffer(*body),
                            asio::redirect_error(asio::use_awaitable, ec));
  Disarm();
  if (ec) co_return fail(ec);
  co_return absl::OkStatus();
}

}  // namespace fjord::broker::internal
