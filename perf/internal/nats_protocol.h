// The NATS client protocol (nats.io "Client Protocol"): the frames a server
// sends (INFO, MSG, HMSG, PING, PONG, +OK, -ERR) parsed in place from the
// bytes received, and the PUB and SUB a client sends. Stateless functions;
// thread-compatible.
#ifndef FJORD_PERF_INTERNAL_NATS_PROTOCOL_H_
#define FJORD_PERF_INTERNAL_NATS_PROTOCOL_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fjord::perf::internal {

enum class NatsOp { kInfo, kMsg, kHmsg, kPing, kPong, kOk, kErr };

// One frame from the server. Views point into the parsed buffer.
struct NatsFrame {
  NatsOp op = NatsOp::kPing;
  std::string_view subject;  // MSG, HMSG
  std::string_view sid;      // MSG, HMSG
  std::string_view reply;    // MSG, HMSG; empty when the sender gave none
  std::string_view headers;  // HMSG: "NATS/1.0 ...\r\n...\r\n\r\n"
  // MSG, HMSG: the payload (after the headers); INFO: its JSON; -ERR: the
  // server's text, quotes included.
  std::string_view payload;
};

// Parses the first frame in buf. Returns its length in bytes, or 0 if buf
// does not hold all of it yet. kDataLoss for bytes that are not a server
// frame.
absl::StatusOr<size_t> ParseNatsFrame(std::string_view buf, NatsFrame* frame);

// The status line of a header block: "NATS/1.0 408 Request Timeout" gives
// code 408 and description "Request Timeout"; code 0 when there is none.
struct NatsStatus {
  int code = 0;
  std::string_view description;
};
absl::StatusOr<NatsStatus> ParseNatsStatus(std::string_view headers);

// Appends "PUB <subject> [reply] <n>\r\n<payload>\r\n".
void AppendNatsPub(std::string& out, std::string_view subject,
                   std::string_view reply, std::string_view payload);

}  // namespace fjord::perf::internal

#endif  // FJORD_PERF_INTERNAL_NATS_PROTOCOL_H_
