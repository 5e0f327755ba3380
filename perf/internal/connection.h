// A non-blocking TCP client connection with an output buffer that requests
// are appended to and an input buffer that replies are read into, and the
// poll loop that drives several of them from one thread. Confined to one
// thread.
#ifndef FJORD_PERF_INTERNAL_CONNECTION_H_
#define FJORD_PERF_INTERNAL_CONNECTION_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fjord::perf::internal {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

class Connection {
 public:
  // Connects to host:port (TCP_NODELAY on), giving up at `deadline`.
  static absl::StatusOr<std::unique_ptr<Connection>> Connect(
      const std::string& host, int port, Deadline deadline);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Bytes to send: append requests here. Send() drops what it has sent.
  std::string& out() { return out_; }
  bool HasOutput() const { return out_sent_ < out_.size(); }

  // Bytes received and not yet consumed. The view is invalidated by
  // Receive() and Consume().
  std::string_view in() const {
    return std::string_view(in_.data() + in_start_, in_end_ - in_start_);
  }
  void Consume(size_t n);

  // Sends as much of out() as the socket takes without blocking.
  absl::Status Send();
  // Reads what has arrived, without blocking. kUnavailable once the
  // server has closed the connection.
  absl::Status Receive();

  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }

 private:
  Connection(int fd, std::string peer);

  int fd_;
  std::string peer_;  // "host:port", for messages
  std::string out_;
  size_t out_sent_ = 0;
  std::string in_;  // [in_start_, in_end_) holds unconsumed bytes
  size_t in_start_ = 0;
  size_t in_end_ = 0;
};

// Waits until some connection is readable, or writable while it has output,
// then sends and receives on each that is ready. kDeadlineExceeded if
// `deadline` passes first; the first connection error otherwise.
absl::Status PollOnce(std::span<Connection* const> conns, Deadline deadline);

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_CONNECTION_H_
