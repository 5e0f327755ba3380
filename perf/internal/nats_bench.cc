#include "perf/internal/nats_bench.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "log/strings.h"
#include "perf/internal/json.h"
#include "perf/internal/nats_session.h"
#include "perf/internal/payload.h"

namespace fjord::perf::internal {
namespace {

// JetStream err_codes meaning "nothing to delete".
constexpr int64_t kStreamNotFound = 10059;
constexpr int64_t kConsumerNotFound = 10014;

Deadline DeadlineAfter(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
}

// The decimal number filling all of s.
bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t r = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    r = r * 10 + static_cast<uint64_t>(c - '0');
  }
  *v = r;
  return true;
}

absl::Status Annotate(const absl::Status& st, std::string_view context) {
  return absl::Status(st.code(), fmt::format("{}: {}", context, st.message()));
}

// Sends an API request whose error, if any, becomes the returned status,
// except the err_code `ignore`.
absl::StatusOr<std::string> ApiCall(NatsSession& s, std::string_view subject,
                                    std::string_view payload, Deadline deadline,
                                    int64_t ignore = -1) {
  absl::StatusOr<std::string> reply = s.Request(subject, payload, deadline);
  if (!reply.ok()) return reply.status();
  if (JetStreamErrCode(*reply) == ignore) return reply;
  if (absl::Status st = JetStreamError(*reply); !st.ok()) {
    return Annotate(st, subject);
  }
  return reply;
}

absl::StatusOr<int64_t> StreamMessages(NatsSession& s,
                                       const std::string& stream,
                                       Deadline deadline) {
  absl::StatusOr<std::string> info =
      ApiCall(s, "$JS.API.STREAM.INFO." + stream, "", deadline);
  if (!info.ok()) return info.status();
  std::optional<int64_t> messages = FindJsonInt(*info, "messages");
  if (!messages) {
    return absl::DataLossError("stream info without a message count");
  }
  return *messages;
}

// The token after "<inbox>." in a reply subject, or nullopt.
std::optional<std::string_view> InboxToken(const NatsSession& s,
                                           std::string_view subject) {
  const std::string& inbox = s.inbox();
  if (subject.size() <= inbox.size() + 1 || !subject.starts_with(inbox) ||
      subject[inbox.size()] != '.') {
    return std::nullopt;
  }
  return subject.substr(inbox.size() + 1);
}

absl::Status CheckJetStream(const NatsSession& s, const std::string& where) {
  if (!s.jetstream()) {
    return absl::FailedPreconditionError(fmt::format(
        "JetStream is not enabled on {} (start nats-server with -js)", where));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunResult> RunNatsProduce(const NatsProduceOptions& o) {
  const Deadline deadline = DeadlineAfter(o.timeout_seconds);
  const std::string where = fmt::format("{}:{}", o.host, o.port);
  const uint64_t n = o.records;
  PayloadFormat format(o.record_size);

  std::vector<std::unique_ptr<NatsSession>> sessions;
  for (int c = 0; c < o.connections; ++c) {
    absl::StatusOr<std::unique_ptr<NatsSession>> s =
        NatsSession::Open(o.host, o.port, deadline);
    if (!s.ok()) return s.status();
    sessions.push_back(std::move(*s));
  }
  NatsSession& admin = *sessions[0];
  if (absl::Status st = CheckJetStream(admin, where); !st.ok()) return st;

  const std::string subject = o.stream + ".in";
  absl::StatusOr<std::string> reply =
      ApiCall(admin, "$JS.API.STREAM.DELETE." + o.stream, "", deadline,
              kStreamNotFound);
  if (!reply.ok()) return reply.status();
  reply = ApiCall(
      admin, "$JS.API.STREAM.CREATE." + o.stream,
      fmt::format("{{\"name\":{},\"subjects\":[{}],\"retention\":\"limits\","
                  "\"storage\":\"file\",\"discard\":\"old\","
                  "\"num_replicas\":1,\"max_msgs\":-1,\"max_bytes\":-1,"
                  "\"max_age\":0,\"max_consumers\":-1}}",
                  JsonQuote(o.stream), JsonQuote(subject)),
      deadline);
  if (!reply.ok()) return reply.status();

  // One lane per connection, publishing records [begin, end).
  struct Lane {
    NatsSession* session;
    uint64_t begin, next, end, acked;
    std::string pub_prefix;  // "PUB <subject> <inbox>."
  };
  std::vector<Lane> lanes;
  std::vector<Connection*> conns;
  for (int c = 0; c < o.connections; ++c) {
    uint64_t begin = n * c / o.connections;
    uint64_t end = n * (c + 1) / o.connections;
    NatsSession* s = sessions[c].get();
    lanes.push_back({s, begin, begin, end, 0,
                     fmt::format("PUB {} {}.", subject, s->inbox())});
    conns.push_back(&s->conn());
  }
  const std::string size_suffix = fmt::format(" {}\r\n", o.record_size);
  std::vector<uint8_t> acked(n, 0);
  std::vector<uint8_t> seq_taken(n + 1, 0);
  uint64_t total_acked = 0;

  RunResult result;
  RunTimer timer;
  while (total_acked < n) {
    for (Lane& lane : lanes) {
      std::string& out = lane.session->conn().out();
      // Stop-and-wait per window: start the next only when all are in.
      bool may_publish =
          !o.wait_for_window || lane.next - lane.begin == lane.acked;
      while (may_publish && lane.next < lane.end &&
             lane.next - lane.begin - lane.acked <
                 static_cast<uint64_t>(o.window)) {
        out.append(lane.pub_prefix);
        fmt::format_to(std::back_inserter(out), "{}", lane.next);
        out.append(size_suffix);
        format.Append(lane.next, out);
        out.append("\r\n");
        ++lane.next;
      }
      if (absl::Status st = lane.session->conn().Send(); !st.ok()) return st;
    }
    absl::Status st = PollOnce(conns, deadline);
    if (absl::IsDeadlineExceeded(st)) {
      return absl::DeadlineExceededError(fmt::format(
          "timed out after {:.1f} s: {} of {} records acknowledged by {}",
          o.timeout_seconds, total_acked, n, where));
    }
    if (!st.ok()) return st;
    for (Lane& lane : lanes) {
      st = lane.session->Dispatch([&](const NatsFrame& f) -> absl::Status {
        std::optional<std::string_view> token =
            InboxToken(*lane.session, f.subject);
        uint64_t index;
        if (!token || !ParseU64(*token, &index) || index < lane.begin ||
            index >= lane.next) {
          return absl::DataLossError(
              fmt::format("unexpected message on {}", f.subject));
        }
        if (f.op == NatsOp::kHmsg) {
          absl::StatusOr<NatsStatus> status = ParseNatsStatus(f.headers);
          if (!status.ok()) return status.status();
          return absl::UnavailableError(fmt::format(
              "publish of record {} answered with status {} {}", index,
              status->code,
              status->code == 503 ? "(no responders: no stream takes "
                                    "the subject)"
                                  : status->description));
        }
        if (absl::Status err = JetStreamError(f.payload); !err.ok()) {
          return Annotate(err, fmt::format("publish of record {}", index));
        }
        std::optional<int64_t> seq = FindJsonInt(f.payload, "seq");
        if (!seq || *seq < 1 || static_cast<uint64_t>(*seq) > n ||
            seq_taken[*seq] || acked[index]) {
          return absl::DataLossError(fmt::format(
              "bad or repeated PubAck for record {}: {}", index, f.payload));
        }
        seq_taken[*seq] = 1;
        acked[index] = 1;
        ++lane.acked;
        ++total_acked;
        return absl::OkStatus();
      });
      if (!st.ok()) return st;
    }
  }
  timer.Stop(result);
  result.records = total_acked;
  result.server_version = admin.server_version();

  absl::StatusOr<int64_t> messages = StreamMessages(admin, o.stream, deadline);
  if (!messages.ok()) return messages.status();
  result.server_count = *messages;
  if (static_cast<uint64_t>(*messages) != n) {
    return absl::DataLossError(
        fmt::format("stream {} holds {} messages after {} acknowledged",
                    o.stream, *messages, n));
  }
  return result;
}

absl::StatusOr<RunResult> RunNatsConsume(const NatsConsumeOptions& o) {
  const Deadline deadline = DeadlineAfter(o.timeout_seconds);
  const std::string where = fmt::format("{}:{}", o.host, o.port);
  const uint64_t n = o.records;
  PayloadFormat format(o.record_size);

  absl::StatusOr<std::unique_ptr<NatsSession>> opened =
      NatsSession::Open(o.host, o.port, deadline);
  if (!opened.ok()) return opened.status();
  NatsSession& s = **opened;
  if (absl::Status st = CheckJetStream(s, where); !st.ok()) return st;

  absl::StatusOr<int64_t> messages = StreamMessages(s, o.stream, deadline);
  if (!messages.ok()) return messages.status();
  if (static_cast<uint64_t>(*messages) < n) {
    return absl::FailedPreconditionError(
        fmt::format("stream {} holds {} messages, fewer than the {} to read",
                    o.stream, *messages, n));
  }

  const std::string consumer_path = o.stream + "." + o.consumer;
  absl::StatusOr<std::string> reply =
      ApiCall(s, "$JS.API.CONSUMER.DELETE." + consumer_path, "", deadline,
              kConsumerNotFound);
  if (!reply.ok()) return reply.status();
  const bool ack_all = o.ack_policy == AckPolicy::kAll;
  // With AckAll, allow every message the outstanding pulls can bring to be
  // unacknowledged at once, so the limit never throttles delivery.
  std::string ack_config =
      ack_all ? fmt::format("\"ack_policy\":\"all\",\"max_ack_pending\":{}",
                            2 * o.batch * o.pulls)
              : std::string("\"ack_policy\":\"none\"");
  reply = ApiCall(
      s, "$JS.API.CONSUMER.DURABLE.CREATE." + consumer_path,
      fmt::format("{{\"stream_name\":{},\"config\":{{\"durable_name\":{},"
                  "\"deliver_policy\":\"all\",{},\"replay_policy\":"
                  "\"instant\",\"max_waiting\":{}}}}}",
                  JsonQuote(o.stream), JsonQuote(o.consumer), ack_config,
                  std::max(512, o.pulls)),
      deadline);
  if (!reply.ok()) return reply.status();

  struct Pull {
    uint64_t id = 0;
    uint64_t remaining = 0;  // messages still to come; 0 = slot free
  };
  std::vector<Pull> pulls(o.pulls);
  uint64_t next_pull_id = 0;
  uint64_t outstanding = 0;  // sum of remaining over the pulls
  uint64_t received = 0;
  std::vector<uint8_t> seen(o.verify ? n : 0, 0);
  std::string last_reply;  // ack subject of the newest message (AckAll)
  bool unacked = false;
  const std::string next_subject = "$JS.API.CONSUMER.MSG.NEXT." + consumer_path;
  Connection& conn = s.conn();
  Connection* conns[] = {&conn};

  auto ack_newest = [&] {
    if (ack_all && unacked) {
      AppendNatsPub(conn.out(), last_reply, "", "");
      unacked = false;
    }
  };
  // Stored messages arrive on the inbox subscription under their own
  // subject, with an ack subject "$JS.ACK.<stream>.<consumer>...." as
  // reply, and are not marked with the pull they answer: the server fills
  // pull requests in the order they came, so a message belongs to the
  // oldest pull still expecting messages. Status messages (HMSG) come on
  // the pull's own reply subject "<inbox>.p<id>".
  auto oldest_open_pull = [&]() -> Pull* {
    Pull* oldest = nullptr;
    for (Pull& p : pulls) {
      if (p.remaining > 0 && (oldest == nullptr || p.id < oldest->id)) {
        oldest = &p;
      }
    }
    return oldest;
  };
  auto on_message = [&](const NatsFrame& f) -> absl::Status {
    if (f.op == NatsOp::kHmsg) {
      absl::StatusOr<NatsStatus> status = ParseNatsStatus(f.headers);
      if (!status.ok()) return status.status();
      std::optional<std::string_view> token = InboxToken(s, f.subject);
      uint64_t id;
      if (status->code == 0 || !token || !token->starts_with('p') ||
          !ParseU64(token->substr(1), &id)) {
        return absl::DataLossError(
            fmt::format("unexpected message with headers on {}", f.subject));
      }
      if (status->code == 100) return absl::OkStatus();  // heartbeat
      if (status->code == 404 || status->code == 408) {
        // No messages / request expired: this pull brings no more.
        for (Pull& p : pulls) {
          if (p.remaining > 0 && p.id == id) {
            outstanding -= p.remaining;
            p.remaining = 0;
          }
        }
        ack_newest();
        return absl::OkStatus();
      }
      return absl::FailedPreconditionError(
          fmt::format("pull request answered with status {} {}", status->code,
                      status->description));
    }
    if (!f.reply.starts_with("$JS.ACK.")) {
      return absl::DataLossError(
          fmt::format("unexpected message on {}", f.subject));
    }
    Pull* pull = oldest_open_pull();
    if (pull == nullptr) {
      return absl::DataLossError(
          fmt::format("message for no open pull request on {}", f.subject));
    }
    if (o.verify) {
      absl::StatusOr<uint64_t> index = format.Check(f.payload);
      if (!index.ok()) {
        return Annotate(index.status(),
                        fmt::format("message {} read", received));
      }
      if (*index >= n || seen[*index]) {
        return absl::DataLossError(fmt::format(
            "record {} read twice or out of range 0..{}", *index, n - 1));
      }
      seen[*index] = 1;
    } else if (f.payload.size() != o.record_size) {
      return absl::DataLossError(fmt::format("message of {} bytes, expected {}",
                                             f.payload.size(), o.record_size));
    }
    ++received;
    --pull->remaining;
    --outstanding;
    if (ack_all) {
      last_reply.assign(f.reply);  // reuses the string's capacity
      unacked = true;
      if (pull->remaining == 0) ack_newest();
    }
    return absl::OkStatus();
  };

  RunResult result;
  RunTimer timer;
  while (received < n) {
    for (Pull& p : pulls) {
      if (p.remaining > 0 || received + outstanding >= n) continue;
      uint64_t b = std::min<uint64_t>(o.batch, n - received - outstanding);
      p.id = next_pull_id++;
      p.remaining = b;
      outstanding += b;
      std::string& out = conn.out();
      fmt::format_to(std::back_inserter(out), "PUB {} {}.p{} ", next_subject,
                     s.inbox(), p.id);
      // Pulls expire after a second; an expired one is simply reissued.
      std::string body =
          fmt::format("{{\"batch\":{},\"expires\":1000000000}}", b);
      fmt::format_to(std::back_inserter(out), "{}\r\n{}\r\n", body.size(),
                     body);
    }
    if (absl::Status st = conn.Send(); !st.ok()) return st;
    absl::Status st = PollOnce(conns, deadline);
    if (absl::IsDeadlineExceeded(st)) {
      return absl::DeadlineExceededError(
          fmt::format("timed out after {:.1f} s: {} of {} records read from {}",
                      o.timeout_seconds, received, n, where));
    }
    if (!st.ok()) return st;
    st = s.Dispatch(on_message);
    if (!st.ok()) return st;
  }
  ack_newest();
  if (absl::Status st = conn.Send(); !st.ok()) return st;
  timer.Stop(result);
  result.records = received;
  result.server_version = s.server_version();
  result.server_count = *messages;

  // Untimed checks: the acks took effect, then the consumer goes away.
  if (absl::Status st = s.Flush(deadline); !st.ok()) return st;
  if (ack_all) {
    int64_t pending = -1;
    for (int attempt = 0; attempt < 50 && pending != 0; ++attempt) {
      if (attempt > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      absl::StatusOr<std::string> info =
          ApiCall(s, "$JS.API.CONSUMER.INFO." + consumer_path, "", deadline);
      if (!info.ok()) return info.status();
      pending = FindJsonInt(*info, "num_ack_pending").value_or(-1);
    }
    if (pending != 0) {
      return absl::DataLossError(
          fmt::format("consumer {} still has {} acknowledgements pending",
                      o.consumer, pending));
    }
  }
  reply = ApiCall(s, "$JS.API.CONSUMER.DELETE." + consumer_path, "", deadline);
  if (!reply.ok()) return reply.status();
  return result;
}

}  // namespace fjord::perf::internal
