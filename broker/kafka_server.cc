#include "broker/kafka_server.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "log/internal/endian.h"
#include "spdlog/spdlog.h"

namespace fjord::broker {

namespace {
// Smallest valid request: api key, version, correlation id, client id len.
constexpr int32_t kMinRequestBytes = 10;
// A connection reads into a buffer of this size (grown for a larger
// request), never offering a read less room than kMinReadBytes.
constexpr size_t kReadChunkBytes = 64 * 1024;
constexpr size_t kMinReadBytes = 4 * 1024;
}  // namespace

KafkaServer::KafkaServer(asio::io_context& io, const BrokerConfig& config,
                         RequestHandler* handler, Metrics* metrics,
                         int io_threads)
    : io_(io),
      io_threads_(std::max(1, io_threads)),
      config_(config),
      handler_(handler),
      metrics_(metrics),
      acceptor_(io) {}

KafkaServer::~KafkaServer() {
  {
    absl::MutexLock l(&mu_);
    guards_.clear();
  }
  for (auto& c : contexts_) c->stop();
  Join();
  // Connections still open on the server's contexts (no Stop and Join)
  // go with those contexts, before the members they use.
  absl::MutexLock l(&mu_);
  sockets_.clear();
}

void KafkaServer::Join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

asio::io_context& KafkaServer::NextContext() {
  const size_t i = next_context_++ % static_cast<size_t>(io_threads_);
  return i == 0 ? io_ : *contexts_[i - 1];
}

absl::Status KafkaServer::Start() {
  std::error_code ec;
  auto address = asio::ip::make_address(config_.kafka_address.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "listeners: '%s' is not an IP address", config_.kafka_address.host));
  }
  asio::ip::tcp::endpoint endpoint(address, config_.kafka_address.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrFormat("cannot listen on %s: %s",
                        config_.kafka_address.ToString(), ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  {
    absl::MutexLock l(&mu_);
    for (int i = 1; i < io_threads_; i++) {
      // Concurrency hint 1: only its own thread runs it.
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.push_back(asio::make_work_guard(*contexts_.back()));
    }
  }
  for (auto& c : contexts_) {
    threads_.emplace_back([ctx = c.get()] { ctx->run(); });
  }
  asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), asio::detached);
  return absl::OkStatus();
}

void KafkaServer::Stop() {
  std::set<std::shared_ptr<Socket>> sockets;
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    sockets = sockets_;
    // The server's threads end once their connections have.
    guards_.clear();
  }
  asio::post(acceptor_.get_executor(), [this] {
    std::error_code ec;
    acceptor_.close(ec);
  });
  // Ending the read side lets each session finish the request it is
  // handling, answer it, and then stop at its next read.
  for (const auto& s : sockets) {
    asio::post(s->get_executor(), [s] {
      std::error_code ec;
      s->shutdown(asio::socket_base::shutdown_receive, ec);
    });
  }
}

int KafkaServer::connections() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(sockets_.size());
}

asio::awaitable<void> KafkaServer::AcceptLoop() {
  for (;;) {
    // The socket comes into being on its thread's context only when a
    // connection arrives: a pending accept holds none that could outlive
    // the server's contexts.
    std::error_code ec;
    auto accepted = co_await acceptor_.async_accept(
        NextContext(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open())
        co_return;
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    auto socket = std::make_shared<Socket>(std::move(accepted));
    {
      absl::MutexLock l(&mu_);
      if (stopping_) co_return;
      if (static_cast<int>(sockets_.size()) >= config_.max_connections) {
        std::error_code ignored;
        auto peer = socket->remote_endpoint(ignored);
        spdlog::warn(
            "refusing connection from {}:{}: max.connections ({}) "
            "reached",
            peer.address().to_string(), peer.port(), config_.max_connections);
        socket->close(ignored);
        if (metrics_ != nullptr) metrics_->ConnectionRejected();
        continue;
      }
      sockets_.insert(socket);
    }
    if (metrics_ != nullptr) metrics_->ConnectionOpened();
    socket->set_option(asio::ip::tcp::no_delay(true), ec);
    asio::co_spawn(socket->get_executor(), Session(socket), asio::detached);
  }
}

asio::awaitable<void> KafkaServer::Session(std::shared_ptr<Socket> socket) {
  std::error_code ec;
  auto remote = socket->remote_endpoint(ec);
  const std::string peer =
      ec ? "unknown peer"
         : absl::StrFormat("%s:%d", remote.address().to_string(),
                           remote.port());
  // Requests are read in chunks: one read takes whatever the socket holds
  // (a request's size field and body together, often several pipelined
  // requests); [start, end) is what is read but not handled yet.
  std::vector<uint8_t> buf(kReadChunkBytes);
  size_t start = 0;
  size_t end = 0;
  for (;;) {
    size_t need = 4;
    if (end - start >= 4) {
      const int32_t size = log::internal::LoadBE<int32_t>(buf.data() + start);
      if (size < kMinRequestBytes || size > config_.socket_request_max_bytes) {
        spdlog::warn(
            "closing connection from {}: request size {} is outside "
            "[{}, socket.request.max.bytes={}]",
            peer, size, kMinRequestBytes, config_.socket_request_max_bytes);
        if (metrics_ != nullptr) metrics_->BadFrame();
        break;
      }
      need = 4 + static_cast<size_t>(size);
    }
    if (end - start < need) {
      // Room for the rest of this request and a useful read: handled
      // requests are dropped from the front; a buffer grown for a large
      // request shrinks back once it is empty.
      if (start == end) {
        start = end = 0;
        if (buf.size() > 4 * kReadChunkBytes) buf.assign(kReadChunkBytes, 0);
      }
      if (buf.size() - start < need || buf.size() - end < kMinReadBytes) {
        std::memmove(buf.data(), buf.data() + start, end - start);
        end -= start;
        start = 0;
        if (buf.size() < need) buf.resize(std::max(need, kReadChunkBytes));
      }
      const size_t n = co_await socket->async_read_some(
          asio::buffer(buf.data() + end, buf.size() - end),
          asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (end > start) {  // closed, or shutting down, mid-request
          spdlog::warn("closing connection from {}: truncated request ({})",
                       peer, ec.message());
          if (metrics_ != nullptr) metrics_->BadFrame();
        }
        break;
      }
      end += n;
      continue;
    }
    std::span<uint8_t> frame(buf.data() + start + 4, need - 4);
    start += need;
    auto handled = co_await handler_->Handle(frame);
    if (!handled.ok()) {
      spdlog::warn("closing connection from {}: {}", peer,
                   handled.status().message());
      if (metrics_ != nullptr) metrics_->BadFrame();
      break;
    }
    if (handled->response == nullptr) continue;  // acks=0
    auto pieces = handled->response->Finish();
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(pieces.size());
    for (const auto& p : pieces) buffers.emplace_back(p.data(), p.size());
    co_await asio::async_write(*socket, buffers,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  socket->close(ec);
  if (metrics_ != nullptr) metrics_->ConnectionClosed();
  absl::MutexLock l(&mu_);
  sockets_.erase(socket);
}

}  // namespace fjord::broker
