// A NATS client connection set up for JetStream requests: INFO read,
// CONNECT sent (headers and no-responders on, verbose off), and one
// subscription to a private inbox, "<inbox>.>", through which every reply
// comes back. Confined to one thread.
#ifndef FJORD_PERF_INTERNAL_NATS_SESSION_H_
#define FJORD_PERF_INTERNAL_NATS_SESSION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "perf/internal/connection.h"
#include "perf/internal/nats_protocol.h"

namespace fjord::perf::internal {

class NatsSession {
 public:
  // Connects and completes the handshake (a PING answered by PONG proves
  // the server took CONNECT and SUB).
  static absl::StatusOr<std::unique_ptr<NatsSession>> Open(
      const std::string& host, int port, Deadline deadline);

  Connection& conn() { return *conn_; }
  // "_INBOX.<16 hex digits>"; replies go to subjects "<inbox>.<token>".
  const std::string& inbox() const { return inbox_; }
  const std::string& server_version() const { return server_version_; }
  // Whether the server's INFO says JetStream is enabled.
  bool jetstream() const { return jetstream_; }

  // Handles every whole frame received so far: answers PING, fails on
  // -ERR, passes MSG and HMSG to `on_message`, stops at its first error.
  absl::Status Dispatch(
      absl::FunctionRef<absl::Status(const NatsFrame&)> on_message);

  // Publishes `payload` to `subject` with a fresh reply subject and waits
  // for the reply's payload. A 503 status (no responders) is kUnavailable.
  // For set-up and checks only: other messages arriving meanwhile are an
  // error.
  absl::StatusOr<std::string> Request(std::string_view subject,
                                      std::string_view payload,
                                      Deadline deadline);

  // Sends PING and waits for its PONG: the server has then processed
  // everything sent before.
  absl::Status Flush(Deadline deadline);

 private:
  NatsSession(std::unique_ptr<Connection> conn, std::string inbox);
  // Dispatches, then polls, until done() or an error.
  absl::Status PumpUntil(
      Deadline deadline, absl::FunctionRef<bool()> done,
      absl::FunctionRef<absl::Status(const NatsFrame&)> on_message,
      std::string_view waiting_for);

  std::unique_ptr<Connection> conn_;
  std::string inbox_;
  std::string server_version_;
  bool jetstream_ = false;
  bool got_info_ = false;
  uint64_t pings_sent_ = 0;
  uint64_t pongs_received_ = 0;
  uint64_t next_request_ = 0;
};

// The error in a JetStream API reply, as a Status naming its description
// and err_code; OK when the reply carries no error.
absl::Status JetStreamError(std::string_view reply);
// The JetStream err_code of a reply (10059: stream not found, 10014:
// consumer not found, ...), or 0.
int64_t JetStreamErrCode(std::string_view reply);

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_NATS_SESSION_H_
