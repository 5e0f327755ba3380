// PeerConnection: one Kafka-protocol connection from this broker to
// another (a follower to its leader), one request at a time: connect,
// then write a whole request frame and read its response, each bounded by
// a timeout after which the socket is closed. No ApiVersions handshake:
// both ends are fjord brokers speaking the versions of
// broker/kafka/peer_protocol.h.
//
// Confined to one strand: every call, and the coroutine awaiting it, on
// the executor it was made with.
#ifndef FJORD_BROKER_INTERNAL_PEER_CONNECTION_H_
#define FJORD_BROKER_INTERNAL_PEER_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio.hpp"

namespace fjord::broker::internal {

class PeerConnection {
 public:
  explicit PeerConnection(asio::any_io_executor ex)
      : socket_(ex),
        timer_(ex),
        watchdog_(std::make_shared<Watchdog>(Watchdog{&socket_})) {}
  ~PeerConnection();
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  bool is_open() const { return socket_.is_open(); }
  // kUnavailable naming the address when it cannot connect in `timeout`.
  asio::awaitable<absl::Status> Connect(std::string host, uint16_t port,
                                        std::chrono::milliseconds timeout);
  // Writes `request` (a whole frame: size prefix, header, body) and reads
  // the response carrying `correlation_id`; its body (after the
  // correlation id) lands in `*body`. Any failure closes the connection:
  // kUnavailable (broken, refused), kDeadlineExceeded (timeout),
  // kDataLoss (a malformed or mismatched response).
  asio::awaitable<absl::Status> Call(const std::string& request,
                                     int32_t correlation_id,
                                     std::chrono::milliseconds timeout,
                                     std::vector<uint8_t>* body);
  void Close();

 private:
  // Closes the socket if the operation has not finished in `timeout`.
  void Arm(std::chrono::milliseconds timeout);
  void Disarm();

  struct Watchdog {
    asio::ip::tcp::socket* socket;  // null once the connection is gone
    uint64_t armed = 0;             // which Arm() the timer serves
    bool timed_out = false;
  };
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<Watchdog> watchdog_;
  std::string peer_;
};

}  // namespace fjord::broker::internal

#endif  // FJORD_BROKER_INTERNAL_PEER_CONNECTION_H_
