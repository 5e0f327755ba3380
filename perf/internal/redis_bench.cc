#include "perf/internal/redis_bench.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "log/status_macros.h"
#include "log/strings.h"
#include "perf/internal/connection.h"
#include "perf/internal/payload.h"
#include "perf/internal/resp.h"

namespace fjord::perf::internal {
namespace {

Deadline DeadlineAfter(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
}

// Waits until conn's input starts with a whole reply; returns its length.
absl::StatusOr<size_t> AwaitReply(Connection& conn, Deadline deadline,
                                  std::string_view waiting_for) {
  Connection* conns[] = {&conn};
  while (true) {
    absl::StatusOr<size_t> len = RespReplyLength(conn.in());
    if (!len.ok()) {
      return absl::DataLossError(
          fmt::format("from {}: {} (is it a Redis server?)", conn.peer(),
                      len.status().message()));
    }
    if (*len > 0) return *len;
    absl::Status st = conn.Send();
    if (st.ok()) st = PollOnce(conns, deadline);
    if (absl::IsDeadlineExceeded(st)) {
      return absl::DeadlineExceededError(fmt::format(
          "timed out waiting for {} from {}", waiting_for, conn.peer()));
    }
    if (!st.ok()) return st;
  }
}

// Sends one command and returns its reply's first token; for set-up and
// checks only. The whole reply is copied to *reply_copy, which the token's
// text points into.
absl::StatusOr<RespToken> Call(Connection& conn,
                               std::initializer_list<std::string_view> args,
                               Deadline deadline, std::string* reply_copy) {
  AppendRespCommand(conn.out(), args);
  std::string_view name = *args.begin();
  absl::StatusOr<size_t> len = AwaitReply(conn, deadline, name);
  if (!len.ok()) return len.status();
  reply_copy->assign(conn.in().substr(0, *len));
  conn.Consume(*len);
  size_t pos = 0;
  RespToken token;
  absl::StatusOr<bool> got = NextRespToken(*reply_copy, &pos, &token);
  if (!got.ok()) return got.status();
  if (token.type == RespType::kError) {
    return absl::FailedPreconditionError(
        fmt::format("{} failed: {}", name, token.text));
  }
  return token;
}

absl::StatusOr<int64_t> Xlen(Connection& conn, const std::string& key,
                             Deadline deadline) {
  std::string reply;
  absl::StatusOr<RespToken> t = Call(conn, {"XLEN", key}, deadline, &reply);
  if (!t.ok()) return t.status();
  if (t->type != RespType::kInteger) {
    return absl::DataLossError("XLEN did not answer with an integer");
  }
  return t->number;
}

// CONFIG GET <name> -> the value, or "" when CONFIG is refused.
std::string ConfigGet(Connection& conn, std::string_view name,
                      Deadline deadline) {
  std::string reply;
  absl::StatusOr<RespToken> t =
      Call(conn, {"CONFIG", "GET", name}, deadline, &reply);
  if (!t.ok() || t->type != RespType::kArray || t->number != 2) return "";
  size_t pos = 0;
  RespToken tok;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<bool> got = NextRespToken(reply, &pos, &tok);
    if (!got.ok() || !*got) return "";
  }
  return tok.type == RespType::kBulkString ? std::string(tok.text) : "";
}

// "redis_version:7.0.15" out of INFO server.
std::string ServerVersion(Connection& conn, Deadline deadline) {
  std::string reply;
  absl::StatusOr<RespToken> t =
      Call(conn, {"INFO", "server"}, deadline, &reply);
  if (!t.ok() || t->type != RespType::kBulkString) return "";
  std::string_view info = t->text;
  constexpr std::string_view kField = "redis_version:";
  size_t at = info.find(kField);
  if (at == std::string_view::npos) return "";
  size_t end = info.find('\r', at);
  return std::string(
      info.substr(at + kField.size(), end == std::string_view::npos
                                          ? std::string_view::npos
                                          : end - at - kField.size()));
}

}  // namespace

absl::StatusOr<RedisProduceResult> RunRedisProduce(
    const RedisProduceOptions& o) {
  const Deadline deadline = DeadlineAfter(o.timeout_seconds);
  const std::string where = fmt::format("{}:{}", o.host, o.port);
  const uint64_t n = o.records;
  PayloadFormat format(o.record_size);

  std::vector<std::unique_ptr<Connection>> owned;
  std::vector<Connection*> conns;
  for (int c = 0; c < o.connections; ++c) {
    absl::StatusOr<std::unique_ptr<Connection>> conn =
        Connection::Connect(o.host, o.port, deadline);
    if (!conn.ok()) return conn.status();
    conns.push_back(conn->get());
    owned.push_back(std::move(*conn));
  }
  Connection& admin = *conns[0];
  RedisProduceResult result;
  std::string reply;
  absl::StatusOr<RespToken> t = Call(admin, {"DEL", o.key}, deadline, &reply);
  if (!t.ok()) return t.status();
  result.appendonly = ConfigGet(admin, "appendonly", deadline);
  result.appendfsync = ConfigGet(admin, "appendfsync", deadline);
  result.run.server_version = ServerVersion(admin, deadline);

  // XADD <key> * f <record>: everything before the record is the same for
  // every record.
  const std::string prefix = fmt::format(
      "*5\r\n$4\r\nXADD\r\n${}\r\n{}\r\n$1\r\n*\r\n$1\r\nf\r\n${}\r\n",
      o.key.size(), o.key, o.record_size);
  struct Lane {
    Connection* conn;
    uint64_t begin, next, end, answered;
  };
  std::vector<Lane> lanes;
  for (int c = 0; c < o.connections; ++c) {
    uint64_t begin = n * c / o.connections;
    lanes.push_back({conns[c], begin, begin, n * (c + 1) / o.connections, 0});
  }
  uint64_t total = 0;

  RunTimer timer;
  while (total < n) {
    for (Lane& lane : lanes) {
      std::string& out = lane.conn->out();
      while (lane.next < lane.end && lane.next - lane.begin - lane.answered <
                                         static_cast<uint64_t>(o.pipeline)) {
        out.append(prefix);
        format.Append(lane.next, out);
        out.append("\r\n");
        ++lane.next;
      }
      if (absl::Status st = lane.conn->Send(); !st.ok()) return st;
    }
    absl::Status st = PollOnce(conns, deadline);
    if (absl::IsDeadlineExceeded(st)) {
      return absl::DeadlineExceededError(
          fmt::format("timed out after {:.1f} s: {} of {} XADDs answered by {}",
                      o.timeout_seconds, total, n, where));
    }
    if (!st.ok()) return st;
    for (Lane& lane : lanes) {
      std::string_view in = lane.conn->in();
      size_t pos = 0;
      RespToken token;
      while (true) {
        absl::StatusOr<bool> got = NextRespToken(in, &pos, &token);
        if (!got.ok()) {
          return absl::DataLossError(
              fmt::format("from {}: {} (is it a Redis server?)", where,
                          got.status().message()));
        }
        if (!*got) break;
        if (token.type == RespType::kError) {
          return absl::FailedPreconditionError(
              fmt::format("XADD of record {} failed: {}",
                          lane.begin + lane.answered, token.text));
        }
        if (token.type != RespType::kBulkString ||
            lane.begin + lane.answered >= lane.next) {
          return absl::DataLossError("unexpected reply to XADD");
        }
        ++lane.answered;
        ++total;
      }
      lane.conn->Consume(pos);
    }
  }
  timer.Stop(result.run);
  result.run.records = total;

  absl::StatusOr<int64_t> len = Xlen(admin, o.key, deadline);
  if (!len.ok()) return len.status();
  result.run.server_count = *len;
  if (static_cast<uint64_t>(*len) != n) {
    return absl::DataLossError(fmt::format(
        "stream {} has {} entries after {} XADDs answered", o.key, *len, n));
  }
  return result;
}

absl::StatusOr<RunResult> RunRedisConsume(const RedisConsumeOptions& o) {
  const Deadline deadline = DeadlineAfter(o.timeout_seconds);
  const std::string where = fmt::format("{}:{}", o.host, o.port);
  const uint64_t n = o.records;
  PayloadFormat format(o.record_size);

  absl::StatusOr<std::unique_ptr<Connection>> opened =
      Connection::Connect(o.host, o.port, deadline);
  if (!opened.ok()) return opened.status();
  Connection& conn = **opened;
  RunResult result;
  absl::StatusOr<int64_t> len = Xlen(conn, o.key, deadline);
  if (!len.ok()) return len.status();
  if (static_cast<uint64_t>(*len) < n) {
    return absl::FailedPreconditionError(
        fmt::format("stream {} holds {} entries, fewer than the {} to read",
                    o.key, *len, n));
  }
  result.server_count = *len;
  result.server_version = ServerVersion(conn, deadline);

  std::vector<uint8_t> seen(o.verify ? n : 0, 0);
  std::string last_id = "0-0";
  uint64_t received = 0;
  Connection* conns[] = {&conn};
  auto malformed = [&](std::string_view what) {
    return absl::DataLossError(
        fmt::format("unexpected XREAD reply from {}: {}", where, what));
  };

  RunTimer timer;
  while (received < n) {
    std::string count =
        std::to_string(std::min<uint64_t>(o.batch, n - received));
    // BLOCK only matters if the stream were shorter than it was just now.
    AppendRespCommand(conn.out(), {"XREAD", "COUNT", count, "BLOCK", "1000",
                                   "STREAMS", o.key, last_id});
    size_t reply_len = 0;
    while (true) {
      absl::StatusOr<size_t> l = RespReplyLength(conn.in());
      if (!l.ok()) return malformed(ToStd(l.status().message()));
      if (*l > 0) {
        reply_len = *l;
        break;
      }
      absl::Status st = conn.Send();
      if (st.ok()) st = PollOnce(conns, deadline);
      if (absl::IsDeadlineExceeded(st)) {
        return absl::DeadlineExceededError(fmt::format(
            "timed out after {:.1f} s: {} of {} entries read from {}",
            o.timeout_seconds, received, n, where));
      }
      if (!st.ok()) return st;
    }
    std::string_view reply = conn.in().substr(0, reply_len);
    size_t pos = 0;
    RespToken t;
    // Every token is present: RespReplyLength walked them all.
    auto next = [&](RespType want, std::string_view what) -> absl::Status {
      absl::StatusOr<bool> got = NextRespToken(reply, &pos, &t);
      if (!got.ok() || !*got || t.type != want) return malformed(what);
      return absl::OkStatus();
    };
    absl::StatusOr<bool> first = NextRespToken(reply, &pos, &t);
    if (!first.ok() || !*first) return malformed("no reply");
    if (t.type == RespType::kError) {
      return absl::FailedPreconditionError(
          fmt::format("XREAD failed: {}", t.text));
    }
    if (t.type != RespType::kNull) {  // null: nothing new within BLOCK
      if (t.type != RespType::kArray || t.number != 1) {
        return malformed("not one stream");
      }
      RETURN_IF_ERROR(next(RespType::kArray, "stream is not a pair"));
      RETURN_IF_ERROR(next(RespType::kBulkString, "no stream key"));
      RETURN_IF_ERROR(next(RespType::kArray, "no entry list"));
      int64_t entries = t.number;
      std::string_view id;
      for (int64_t e = 0; e < entries; ++e) {
        RETURN_IF_ERROR(next(RespType::kArray, "entry is not a pair"));
        if (t.number != 2) return malformed("entry is not a pair");
        RETURN_IF_ERROR(next(RespType::kBulkString, "entry has no id"));
        id = t.text;
        RETURN_IF_ERROR(next(RespType::kArray, "entry has no fields"));
        if (t.number != 2) return malformed("entry has other fields than f");
        RETURN_IF_ERROR(next(RespType::kBulkString, "no field name"));
        if (t.text != "f") return malformed("entry has other fields than f");
        RETURN_IF_ERROR(next(RespType::kBulkString, "no field value"));
        if (o.verify) {
          absl::StatusOr<uint64_t> index = format.Check(t.text);
          if (!index.ok()) {
            return absl::DataLossError(
                fmt::format("entry {}: {}", id, index.status().message()));
          }
          if (*index >= n || seen[*index]) {
            return absl::DataLossError(fmt::format(
                "record {} read twice or out of range 0..{}", *index, n - 1));
          }
          seen[*index] = 1;
        } else if (t.text.size() != o.record_size) {
          return malformed("value of the wrong size");
        }
        ++received;
      }
      if (received > n) return malformed("more entries than asked for");
      if (entries > 0) last_id.assign(id);
    }
    conn.Consume(reply_len);
  }
  timer.Stop(result);
  result.records = received;
  return result;
}

}  // namespace fjord::perf::internal
