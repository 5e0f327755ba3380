// The wire-protocol and payload code under fjord-peer-bench: RESP, the NATS
// client protocol, the few JSON fields read from JetStream, and the record
// format every consumer checks. Whole-tool runs against real servers are in
// peer_bench_test.sh.
#include <string>
#include <string_view>

#include "catch2/catch.hpp"
#include "perf/internal/json.h"
#include "perf/internal/nats_protocol.h"
#include "perf/internal/nats_session.h"
#include "perf/internal/payload.h"
#include "perf/internal/resp.h"

namespace fjord::perf::internal {
namespace {

using namespace std::string_view_literals;

TEST_CASE("Payload: record 7 of 20 bytes is its index, a colon and filler",
          "[perf]") {
  PayloadFormat f(20);
  std::string out;
  f.Append(7, out);
  CHECK(out == "000000000007:uvwxyza");
  auto index = f.Check(out);
  REQUIRE(index.ok());
  CHECK(*index == 7);
}

TEST_CASE("Payload: every record round-trips through Fill and Check",
          "[perf]") {
  for (size_t size : std::initializer_list<size_t>{13, 14, 100, 1024}) {
    PayloadFormat f(size);
    std::string buf(size, '\0');
    for (uint64_t i : std::initializer_list<uint64_t>{0, 1, 25, 26, 123456,
                                                      kMaxRecordIndex}) {
      f.Fill(i, buf.data());
      auto index = f.Check(buf);
      REQUIRE(index.ok());
      CHECK(*index == i);
    }
  }
}

TEST_CASE("Payload: Next turns record i - 1 into exactly what Fill writes",
          "[perf]") {
  for (size_t size : std::initializer_list<size_t>{13, 100}) {
    PayloadFormat f(size);
    std::string next(size, '\0'), filled(size, '\0');
    // Across carries: 9 -> 10, 999 -> 1000, and the last index.
    for (uint64_t start : std::initializer_list<uint64_t>{
             0, 995, 99'999'999'990, kMaxRecordIndex - 5}) {
      f.Fill(start, next.data());
      for (uint64_t i = start + 1; i <= start + 5; i++) {
        f.Next(i, next.data());
        f.Fill(i, filled.data());
        REQUIRE(next == filled);
        CHECK(*f.Check(next) == i);
      }
    }
  }
}

TEST_CASE(
    "Payload: a wrong length, index, separator or filler byte is data "
    "loss",
    "[perf]") {
  PayloadFormat f(100);
  std::string good;
  f.Append(42, good);

  CHECK(f.Check(std::string_view(good).substr(0, 99)).status().message() ==
        "record is 99 bytes, expected 100");
  std::string bad = good;
  bad[3] = 'x';
  CHECK(absl::IsDataLoss(f.Check(bad).status()));
  bad = good;
  bad[12] = ';';
  CHECK(absl::IsDataLoss(f.Check(bad).status()));
  bad = good;
  bad[77] ^= 1;
  CHECK(f.Check(bad).status().message() == "record 42 differs at byte 77");
  // Another record's bytes under this record's index.
  std::string other;
  f.Append(43, other);
  other.replace(0, 12, "000000000042");
  CHECK(absl::IsDataLoss(f.Check(other).status()));
}

// Feeds every proper prefix of `reply` to RespReplyLength: none is whole.
void CheckIncompleteAtEveryCut(std::string_view reply) {
  for (size_t cut = 0; cut < reply.size(); ++cut) {
    auto len = RespReplyLength(reply.substr(0, cut));
    REQUIRE(len.ok());
    CHECK(*len == 0);
  }
  auto len = RespReplyLength(reply);
  REQUIRE(len.ok());
  CHECK(*len == reply.size());
}

TEST_CASE("RESP: each reply type is parsed into one token", "[perf]") {
  std::string_view buf =
      "+OK\r\n-ERR no\r\n:-42\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*2\r\n";
  size_t pos = 0;
  RespToken t;
  REQUIRE(*NextRespToken(buf, &pos, &t));
  CHECK((t.type == RespType::kSimpleString && t.text == "OK"));
  REQUIRE(*NextRespToken(buf, &pos, &t));
  CHECK((t.type == RespType::kError && t.text == "ERR no"));
  REQUIRE(*NextRespToken(buf, &pos, &t));
  CHECK((t.type == RespType::kInteger && t.number == -42));
  REQUIRE(*NextRespToken(buf, &pos, &t));
  // A bulk string may hold CRLF itself.
  CHECK((t.type == RespType::kBulkString && t.text == "a\r\n"));
  REQUIRE(*NextRespToken(buf, &pos, &t));
  CHECK(t.type == RespType::kNull);
  REQUIRE(*NextRespToken(buf, &pos, &t));
  CHECK(t.type == RespType::kNull);
  REQUIRE(*NextRespToken(buf, &pos, &t));
  CHECK((t.type == RespType::kArray && t.number == 2));
  CHECK(pos == buf.size());
  CHECK_FALSE(*NextRespToken(buf, &pos, &t));
}

TEST_CASE("RESP: a reply cut anywhere is incomplete, never misread", "[perf]") {
  // An XREAD reply: one stream with two entries of one field each.
  CheckIncompleteAtEveryCut(
      "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n"
      "*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$5\r\nhello\r\n"
      "*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$0\r\n\r\n");
  CheckIncompleteAtEveryCut("$10\r\n0123456789\r\n");
  CheckIncompleteAtEveryCut("*0\r\n");
  CheckIncompleteAtEveryCut("*-1\r\n");
}

TEST_CASE("RESP: bytes that are not RESP are data loss", "[perf]") {
  for (std::string_view bad :
       {"?x\r\n"sv, "$abc\r\n"sv, "$-2\r\n"sv, "$3\r\nabcd\r\n"sv, "*-5\r\n"sv,
        ":12a\r\n"sv, ":99999999999999999999\r\n"sv, "$999999999999\r\n"sv}) {
    INFO(bad);
    CHECK(absl::IsDataLoss(RespReplyLength(bad).status()));
  }
  // A line that never ends, past any sane length.
  std::string endless = "+" + std::string(100000, 'a');
  CHECK(absl::IsDataLoss(RespReplyLength(endless).status()));
}

TEST_CASE("RESP: commands are arrays of bulk strings", "[perf]") {
  std::string out;
  AppendRespCommand(out, {"XLEN", "k", ""});
  CHECK(out == "*3\r\n$4\r\nXLEN\r\n$1\r\nk\r\n$0\r\n\r\n");
}

TEST_CASE("NATS: MSG with and without reply, HMSG and control frames parse",
          "[perf]") {
  NatsFrame f;
  std::string_view msg = "MSG a.b 1 _INBOX.x.7 5\r\nhello\r\nPING\r\n";
  auto n = ParseNatsFrame(msg, &f);
  REQUIRE(n.ok());
  CHECK(*n == msg.size() - 6);
  CHECK((f.op == NatsOp::kMsg && f.subject == "a.b" && f.sid == "1" &&
         f.reply == "_INBOX.x.7" && f.payload == "hello"));
  n = ParseNatsFrame(msg.substr(*n), &f);
  REQUIRE(n.ok());
  CHECK((*n == 6 && f.op == NatsOp::kPing));

  // Tabs and runs of spaces separate fields; operation names are
  // case-insensitive; the payload may hold CRLF.
  n = ParseNatsFrame("msg\ta  9\t\t4\r\nx\r\ny\r\n", &f);
  REQUIRE(n.ok());
  CHECK((f.op == NatsOp::kMsg && f.subject == "a" && f.sid == "9" &&
         f.reply.empty() && f.payload == "x\r\ny"));

  std::string_view hmsg =
      "HMSG _INBOX.x.p3 1 32 32\r\nNATS/1.0 408 Request Timeout\r\n\r\n\r\n";
  n = ParseNatsFrame(hmsg, &f);
  REQUIRE(n.ok());
  CHECK(*n == hmsg.size());
  CHECK((f.op == NatsOp::kHmsg && f.subject == "_INBOX.x.p3" &&
         f.payload.empty()));
  auto status = ParseNatsStatus(f.headers);
  REQUIRE(status.ok());
  CHECK((status->code == 408 && status->description == "Request Timeout"));

  n = ParseNatsFrame("-ERR 'Unknown Protocol Operation'\r\n", &f);
  REQUIRE(n.ok());
  CHECK((f.op == NatsOp::kErr && f.payload == "'Unknown Protocol Operation'"));
  n = ParseNatsFrame("INFO {\"version\":\"2.9.10\",\"jetstream\":true} \r\n",
                     &f);
  REQUIRE(n.ok());
  CHECK((f.op == NatsOp::kInfo &&
         FindJsonString(f.payload, "version") == "2.9.10" &&
         FindJsonBool(f.payload, "jetstream") == true));
  CHECK(ParseNatsFrame("+OK\r\n", &f).ok());
  CHECK(f.op == NatsOp::kOk);
  CHECK(ParseNatsFrame("PONG\r\n", &f).ok());
  CHECK(f.op == NatsOp::kPong);
}

TEST_CASE("NATS: a frame cut anywhere is incomplete, never misread", "[perf]") {
  std::string_view frames[] = {
      "MSG a 1 r 5\r\nhello\r\n",
      "HMSG a 1 r 12 17\r\nNATS/1.0\r\n\r\nhello\r\n",
      "INFO {}\r\n",
      "PING\r\n",
  };
  for (std::string_view frame : frames) {
    for (size_t cut = 0; cut < frame.size(); ++cut) {
      NatsFrame f;
      auto n = ParseNatsFrame(frame.substr(0, cut), &f);
      INFO(frame << " cut at " << cut);
      REQUIRE(n.ok());
      CHECK(*n == 0);
    }
  }
}

TEST_CASE("NATS: bytes that are not server frames are data loss", "[perf]") {
  for (std::string_view bad : {
           "HELLO\r\n"sv,                     // unknown operation
           "MSG a 1\r\n"sv,                   // no size
           "MSG a 1 r x 5\r\n"sv,             // too many fields
           "MSG a 1 -5\r\n"sv,                // not a size
           "MSG a 1 3\r\nabcXY"sv,            // payload not followed by CRLF
           "HMSG a 1 9 4\r\nNATS/1.0\r\n"sv,  // headers longer than total
           "MSG a 1 999999999\r\n"sv,         // beyond NATS's largest payload
       }) {
    NatsFrame f;
    INFO(bad);
    CHECK(absl::IsDataLoss(ParseNatsFrame(bad, &f).status()));
  }
  NatsFrame f;
  std::string endless(2 * 1024 * 1024, 'I');
  CHECK(absl::IsDataLoss(ParseNatsFrame(endless, &f).status()));
  CHECK(absl::IsDataLoss(ParseNatsStatus("HTTP/1.1 200\r\n").status()));
  CHECK(absl::IsDataLoss(ParseNatsStatus("NATS/1.0 4x8\r\n").status()));
  auto none = ParseNatsStatus("NATS/1.0\r\nA: b\r\n\r\n");
  REQUIRE(none.ok());
  CHECK(none->code == 0);
}

TEST_CASE("NATS: PUB carries subject, reply and payload size", "[perf]") {
  std::string out;
  AppendNatsPub(out, "s.in", "_INBOX.x.1", "abc");
  AppendNatsPub(out, "$JS.ACK.x", "", "");
  CHECK(out == "PUB s.in _INBOX.x.1 3\r\nabc\r\nPUB $JS.ACK.x 0\r\n\r\n");
}

TEST_CASE("JSON: fields are found at any depth, only as member names",
          "[perf]") {
  std::string_view info =
      R"({"type":"messages","config":{"name":"s"},)"
      R"( "state" : { "messages" : 2000, "bytes":3 },"ok":false,)"
      R"("d":"a \"quoted\" word","n":-7,"f":1.5})";
  CHECK(FindJsonInt(info, "messages") ==
        2000);  // the value "messages" is skipped
  CHECK(FindJsonString(info, "name") == "s");
  CHECK(FindJsonString(info, "d") == R"(a \"quoted\" word)");
  CHECK(FindJsonBool(info, "ok") == false);
  CHECK(FindJsonInt(info, "n") == -7);
  CHECK_FALSE(FindJsonInt(info, "f").has_value());     // not an integer
  CHECK_FALSE(FindJsonInt(info, "name").has_value());  // a string
  CHECK_FALSE(FindJsonString(info, "absent").has_value());
  CHECK_FALSE(FindJsonInt(R"({"a":99999999999999999999})", "a").has_value());
  CHECK_FALSE(FindJsonString(R"({"a":"unterminated)", "a").has_value());
  CHECK_FALSE(FindJsonInt(R"({"a":)", "a").has_value());
}

TEST_CASE("JSON: the result line quotes strings and fixes numbers", "[perf]") {
  JsonObject j;
  j.Add("system", "nats")
      .Add("records", uint64_t{3})
      .Add("rate", 1.5)
      .Add("ok", true)
      .Add("odd", "a\"b\\c\n");
  CHECK(
      j.str() ==
      R"({"system":"nats","records":3,"rate":1.500,"ok":true,"odd":"a\"b\\c\n"})");
}

TEST_CASE("JetStream: a reply's error becomes a status naming it", "[perf]") {
  CHECK(JetStreamError(R"({"stream":"s","seq":5})").ok());
  CHECK(JetStreamErrCode(R"({"stream":"s","seq":5})") == 0);
  std::string_view missing =
      R"({"type":"io.nats.jetstream.api.v1.stream_delete_response",)"
      R"("error":{"code":404,"err_code":10059,"description":"stream not found"}})";
  absl::Status st = JetStreamError(missing);
  CHECK(absl::IsNotFound(st));
  CHECK(st.message() ==
        "JetStream error 404 (err_code 10059): stream not found");
  CHECK(JetStreamErrCode(missing) == 10059);
  CHECK(absl::IsFailedPrecondition(
      JetStreamError(R"({"error":{"code":500,"description":"x"}})")));
}

}  // namespace
}  // namespace fjord::perf::internal
