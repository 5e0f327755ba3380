#include "perf/internal/connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "fmt/format.h"

namespace fjord::perf::internal {
namespace {

constexpr size_t kReadChunk = 256 * 1024;
// Receive() reads at most this much per call so one busy connection cannot
// starve the others in PollOnce.
constexpr size_t kMaxReadPerCall = 4 * 1024 * 1024;

int MillisUntil(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - Clock::now())
                  .count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1000));
}

std::string Errno(std::string_view what, const std::string& peer) {
  return fmt::format("{} {}: {}", what, peer, std::strerror(errno));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connection::Connect(
    const std::string& host, int port, Deadline deadline) {
  std::string peer = fmt::format("{}:{}", host, port);
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(fmt::format("bad port in {}", peer));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
      rc != 0) {
    return absl::InvalidArgumentError(
        fmt::format("cannot resolve {}: {}", host, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  int fd =
      socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(Errno("socket for", peer));
  std::unique_ptr<Connection> conn(new Connection(fd, peer));
  if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(Errno("connect to", peer));
    }
    pollfd p{fd, POLLOUT, 0};
    while (true) {
      int n = poll(&p, 1, MillisUntil(deadline));
      if (n < 0 && errno != EINTR) {
        return absl::InternalError(Errno("poll connecting to", peer));
      }
      if (n > 0) break;
      if (Clock::now() >= deadline) {
        return absl::DeadlineExceededError(
            fmt::format("timed out connecting to {}", peer));
      }
    }
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      return absl::UnavailableError(Errno("connect to", peer));
    }
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return conn;
}

Connection::Connection(int fd, std::string peer)
    : fd_(fd), peer_(std::move(peer)) {
  in_.resize(kReadChunk);
}

Connection::~Connection() { close(fd_); }

void Connection::Consume(size_t n) {
  in_start_ += n;
  if (in_start_ == in_end_) in_start_ = in_end_ = 0;
}

absl::Status Connection::Send() {
  while (out_sent_ < out_.size()) {
    ssize_t n = send(fd_, out_.data() + out_sent_, out_.size() - out_sent_,
                     MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return absl::UnavailableError(Errno("send to", peer_));
    }
    out_sent_ += static_cast<size_t>(n);
  }
  if (out_sent_ == out_.size()) {
    out_.clear();  // keeps the capacity: no allocation in steady state
    out_sent_ = 0;
  } else if (out_sent_ > out_.size() / 2) {
    out_.erase(0, out_sent_);
    out_sent_ = 0;
  }
  return absl::OkStatus();
}

absl::Status Connection::Receive() {
  size_t total = 0;
  while (total < kMaxReadPerCall) {
    if (in_.size() - in_end_ < kReadChunk / 4) {
      // Move the unconsumed tail to the front, then grow if still short.
      if (in_start_ > 0) {
        std::memmove(in_.data(), in_.data() + in_start_, in_end_ - in_start_);
        in_end_ -= in_start_;
        in_start_ = 0;
      }
      if (in_.size() - in_end_ < kReadChunk / 4) {
        in_.resize(in_.size() + kReadChunk);
      }
    }
    ssize_t n = recv(fd_, in_.data() + in_end_, in_.size() - in_end_, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return absl::UnavailableError(Errno("receive from", peer_));
    }
    if (n == 0) {
      return absl::UnavailableError(
          fmt::format("{} closed the connection", peer_));
    }
    in_end_ += static_cast<size_t>(n);
    total += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status PollOnce(std::span<Connection* const> conns, Deadline deadline) {
  // One small vector per call; the callers poll per batch of records, not
  // per record.
  std::vector<pollfd> fds(conns.size());
  for (size_t i = 0; i < conns.size(); ++i) {
    fds[i].fd = conns[i]->fd();
    fds[i].events =
        static_cast<short>(POLLIN | (conns[i]->HasOutput() ? POLLOUT : 0));
  }
  int n;
  while (true) {
    n = poll(fds.data(), fds.size(), MillisUntil(deadline));
    if (n >= 0 || errno != EINTR) break;
  }
  if (n < 0)
    return absl::InternalError(fmt::format("poll: {}", strerror(errno)));
  if (n == 0) {
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError("deadline passed");
    }
    return absl::OkStatus();
  }
  for (size_t i = 0; i < conns.size(); ++i) {
    short re = fds[i].revents;
    if (re == 0) continue;
    if (re & POLLOUT) {
      if (absl::Status s = conns[i]->Send(); !s.ok()) return s;
    }
    if (re & (POLLIN | POLLHUP | POLLERR)) {
      if (absl::Status s = conns[i]->Receive(); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace fjord::perf::internal
