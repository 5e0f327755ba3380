// Connection: one TCP connection to one broker, on the client's io_context.
// It connects (with a timeout), negotiates API versions with ApiVersions,
// then pipelines requests: up to `max_in_flight` written and unanswered at
// once, several written with one gather write, responses matched to
// requests in order by correlation id. Responses are read in chunks (one
// read takes whatever the socket holds, often several small answers); a
// response's body is a view into a shared chunk that the handler may keep
// (the consumer's records are views into it). A request not answered within its
// timeout, a broken socket or a malformed response closes the connection and
// fails every request on it with kUnavailable or kDeadlineExceeded.
//
// Confined to the io thread: call everything from the thread running the
// loop, or holding its LoopGuard (client/internal/loop_guard.h); handlers
// run holding the guard. A write is tried at once, without waiting for the
// socket, and is left to the loop only if the socket takes part of it.
#ifndef FJORD_CLIENT_INTERNAL_CONNECTION_H_
#define FJORD_CLIENT_INTERNAL_CONNECTION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asio.hpp"
#include "client/internal/config.h"
#include "client/internal/loop_guard.h"
#include "client/internal/protocol.h"

namespace fjord::client::internal {

struct Response {
  std::shared_ptr<uint8_t[]> buffer;  // owns `body`
  std::span<uint8_t> body;            // after the correlation id
};
using ResponseHandler = std::function<void(absl::Status, Response)>;

struct ConnectionOptions {
  std::string client_id = "fjord";
  int32_t request_timeout_ms = 30000;
  int max_in_flight = 5;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State { kIdle, kConnecting, kReady, kClosed };

  // `guard` (may be null: a loop only one thread runs) must outlive the
  // connection's handlers.
  Connection(asio::io_context& io, LoopGuard* guard, int32_t node_id,
             HostPort address, ConnectionOptions options);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Connects and negotiates versions; `done` runs once, with OK when the
  // connection is ready or the reason it is closed. `on_closed` runs once
  // when the connection closes for any reason (before the requests on it
  // are failed).
  void Start(std::function<void(absl::Status)> done,
             std::function<void(const absl::Status&)> on_closed);

  // Queues `frame` (finished; the connection sets its correlation id).
  // With `expect_response` false (acks=0) the handler runs with OK and an
  // empty response once the bytes are written. `extra_timeout_ms` is added
  // to request.timeout.ms (a long-poll fetch's wait).
  void Send(std::unique_ptr<OutFrame> frame, bool expect_response,
            int32_t extra_timeout_ms, ResponseHandler handler);

  // Closes the socket and fails everything queued or in flight.
  void Close(absl::Status reason);

  State state() const { return state_; }
  bool ready() const { return state_ == State::kReady; }
  // Requests queued or awaiting their response.
  int outstanding() const {
    return static_cast<int>(queue_.size() + in_flight_.size());
  }
  // True when another request would be written at once.
  bool can_send() const {
    return ready() && static_cast<int>(queue_.size() + in_flight_.size()) <
                          options_.max_in_flight;
  }
  // The highest version of `api_key` in both the broker's range and
  // [min, max]; nullopt if they do not overlap or before ready().
  std::optional<int16_t> Version(int16_t api_key, int16_t min,
                                 int16_t max) const;
  int32_t node_id() const { return node_id_; }
  const HostPort& address() const { return address_; }
  std::string Describe() const;

 private:
  struct Pending {
    std::unique_ptr<OutFrame> frame;
    bool expect_response;
    int32_t correlation_id;
    int64_t deadline_ms;
    ResponseHandler handler;
  };

  void OnConnected();
  void SendApiVersions(int16_t version);
  void MaybeWrite();
  // A write's end: acks=0 requests are done; more may be written.
  void OnWritten();
  void ReadNext();
  // Hands out every complete response in the chunk; false if that closed
  // the connection.
  bool DeliverResponses();
  void OnResponse(std::span<uint8_t> frame);
  // The deadline the timer must enforce now (the oldest request's, or the
  // connect deadline), or nullopt if nothing is outstanding.
  std::optional<int64_t> NextDeadline() const;
  void ArmTimer();
  void OnTimer(const std::error_code& ec, uint64_t generation);

  asio::io_context& io_;
  LoopGuard* const guard_;
  const int32_t node_id_;
  const HostPort address_;
  const ConnectionOptions options_;
  asio::ip::tcp::socket socket_;
  asio::ip::tcp::resolver resolver_;
  // Armed lazily: never later than NextDeadline(), but not re-armed while
  // it is due at or before it (deadlines only grow as requests are
  // answered); when it fires early it re-arms for the deadline then due.
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;  // bumped by each arming
  bool timer_armed_ = false;
  int64_t timer_at_ms_ = 0;
  // A timer that fires this much after its deadline was not being waited
  // for: the loop ran elsewhere (ArmTimer).
  static constexpr int64_t kLateTimerMs = 100;
  State state_ = State::kIdle;
  std::function<void(absl::Status)> on_started_;
  std::function<void(const absl::Status&)> on_closed_;
  int64_t connect_deadline_ms_ = 0;
  int32_t next_correlation_id_ = 1;
  std::deque<Pending> queue_;      // not yet written
  std::deque<Pending> writing_;    // in the current write
  std::deque<Pending> in_flight_;  // written, awaiting a response
  bool write_active_ = false;
  // Bytes read: [chunk_start_, chunk_end_) of chunk_ are not yet part of
  // a delivered response (a partial one, when not empty); delivered
  // responses still share chunk_, so it is never compacted in place.
  std::shared_ptr<uint8_t[]> chunk_;
  size_t chunk_capacity_ = 0;
  size_t chunk_start_ = 0;
  size_t chunk_end_ = 0;
  std::vector<asio::const_buffer> write_buffers_;
  std::vector<kafka::VersionRange> apis_;
};

}  // namespace fjord::client::internal

#endif  // FJORD_CLIENT_INTERNAL_CONNECTION_H_
