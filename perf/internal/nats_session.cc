#include "perf/internal/nats_session.h"

#include <random>

#include "fmt/format.h"
#include "log/strings.h"
#include "perf/internal/json.h"

namespace fjord::perf::internal {
namespace {

constexpr std::string_view kConnect =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,"
    "\"name\":\"fjord-peer-bench\",\"lang\":\"cpp\",\"version\":\"1\","
    "\"protocol\":1,\"echo\":false,\"headers\":true,\"no_responders\":true}"
    "\r\n";

std::string RandomInbox() {
  std::random_device rd;
  uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("_INBOX.{:016x}", r);
}

}  // namespace

NatsSession::NatsSession(std::unique_ptr<Connection> conn, std::string inbox)
    : conn_(std::move(conn)), inbox_(std::move(inbox)) {}

absl::StatusOr<std::unique_ptr<NatsSession>> NatsSession::Open(
    const std::string& host, int port, Deadline deadline) {
  absl::StatusOr<std::unique_ptr<Connection>> conn =
      Connection::Connect(host, port, deadline);
  if (!conn.ok()) return conn.status();
  std::unique_ptr<NatsSession> s(
      new NatsSession(std::move(*conn), RandomInbox()));
  auto no_messages = [](const NatsFrame&) {
    return absl::InternalError("message before the handshake finished");
  };
  absl::Status st = s->PumpUntil(
      deadline, [&] { return s->got_info_; }, no_messages,
      "the INFO a NATS server sends first (is it a NATS server?)");
  if (!st.ok()) return st;
  std::string& out = s->conn_->out();
  out.append(kConnect);
  fmt::format_to(std::back_inserter(out), "SUB {}.> 1\r\n", s->inbox_);
  st = s->Flush(deadline);
  if (!st.ok()) return st;
  return s;
}

absl::Status NatsSession::Dispatch(
    absl::FunctionRef<absl::Status(const NatsFrame&)> on_message) {
  NatsFrame frame;
  while (true) {
    absl::StatusOr<size_t> n = ParseNatsFrame(conn_->in(), &frame);
    if (!n.ok()) {
      return absl::DataLossError(
          fmt::format("from {}: {}", conn_->peer(), n.status().message()));
    }
    if (*n == 0) return absl::OkStatus();
    absl::Status st;
    switch (frame.op) {
      case NatsOp::kInfo:
        if (!got_info_) {
          got_info_ = true;
          server_version_ = std::string(
              FindJsonString(frame.payload, "version").value_or(""));
          jetstream_ = FindJsonBool(frame.payload, "jetstream").value_or(false);
        }
        break;
      case NatsOp::kPing:
        conn_->out().append("PONG\r\n");
        break;
      case NatsOp::kPong:
        ++pongs_received_;
        break;
      case NatsOp::kOk:
        break;
      case NatsOp::kErr:
        st = absl::FailedPreconditionError(
            fmt::format("{} sent -ERR {}", conn_->peer(), frame.payload));
        break;
      case NatsOp::kMsg:
      case NatsOp::kHmsg:
        st = on_message(frame);
        break;
    }
    // The frame's views point into the input buffer: consume only after
    // they have been used.
    conn_->Consume(*n);
    if (!st.ok()) return st;
  }
}

absl::Status NatsSession::PumpUntil(
    Deadline deadline, absl::FunctionRef<bool()> done,
    absl::FunctionRef<absl::Status(const NatsFrame&)> on_message,
    std::string_view waiting_for) {
  Connection* conns[] = {conn_.get()};
  while (true) {
    absl::Status st = Dispatch(on_message);
    if (!st.ok()) return st;
    if (done()) return absl::OkStatus();
    st = conn_->Send();
    if (st.ok()) st = PollOnce(conns, deadline);
    if (absl::IsDeadlineExceeded(st)) {
      return absl::DeadlineExceededError(fmt::format(
          "timed out waiting for {} from {}", waiting_for, conn_->peer()));
    }
    if (!st.ok()) return st;
  }
}

absl::StatusOr<std::string> NatsSession::Request(std::string_view subject,
                                                 std::string_view payload,
                                                 Deadline deadline) {
  std::string reply_to = fmt::format("{}.r{}", inbox_, next_request_++);
  AppendNatsPub(conn_->out(), subject, reply_to, payload);
  std::string reply;
  bool got = false;
  absl::Status failure;
  absl::Status st = PumpUntil(
      deadline, [&] { return got; },
      [&](const NatsFrame& f) -> absl::Status {
        if (f.subject != reply_to) {
          return absl::InternalError(fmt::format(
              "unexpected message on {} while waiting for a reply to {}",
              f.subject, subject));
        }
        if (f.op == NatsOp::kHmsg) {
          absl::StatusOr<NatsStatus> status = ParseNatsStatus(f.headers);
          if (!status.ok()) return status.status();
          if (status->code == 503) {
            return absl::UnavailableError(fmt::format(
                "no responders for {} (is JetStream enabled?)", subject));
          }
          if (status->code != 0) {
            return absl::InternalError(
                fmt::format("{} answered with status {} {}", subject,
                            status->code, status->description));
          }
        }
        reply.assign(f.payload);
        got = true;
        return absl::OkStatus();
      },
      fmt::format("the reply to {}", subject));
  if (!st.ok()) return st;
  return reply;
}

absl::Status NatsSession::Flush(Deadline deadline) {
  conn_->out().append("PING\r\n");
  uint64_t want = ++pings_sent_;
  return PumpUntil(
      deadline, [&] { return pongs_received_ >= want; },
      [](const NatsFrame& f) {
        return absl::InternalError(
            fmt::format("unexpected message on {}", f.subject));
      },
      "PONG");
}

absl::Status JetStreamError(std::string_view reply) {
  if (reply.find("\"error\"") == std::string_view::npos)
    return absl::OkStatus();
  std::string_view description =
      FindJsonString(reply, "description").value_or("(no description)");
  int64_t code = FindJsonInt(reply, "code").value_or(0);
  std::string msg = fmt::format("JetStream error {} (err_code {}): {}", code,
                                JetStreamErrCode(reply), description);
  switch (code) {
    case 400:
      return absl::InvalidArgumentError(msg);
    case 404:
      return absl::NotFoundError(msg);
    case 503:
      return absl::UnavailableError(msg);
    default:
      return absl::FailedPreconditionError(msg);
  }
}

int64_t JetStreamErrCode(std::string_view reply) {
  if (reply.find("\"error\"") == std::string_view::npos) return 0;
  return FindJsonInt(reply, "err_code").value_or(0);
}

}  // namespace fjord::perf::internal
