// The broker's request semantics, in process: requests are built byte by
// byte as a Kafka client would, handed to RequestHandler, and the responses
// decoded.
#include "broker/request_handler.h"

#include <catch2/catch.hpp>
#include <future>
#include <set>
#include <thread>

#include "broker/kafka/errors.h"
#include "log/internal/endian.h"
#include "log/producer_error.h"
#include "tests/util/test_util.h"

namespace fjord::broker {
namespace {

using kafka::Reader;
using kafka::Writer;
using testing::MakeBatch;
using testing::TempDir;

// A broker core (logs, topics, handler) over a temp dir, plus an io_context
// to run the handler's coroutine.
struct Broker {
  TempDir tmp;
  BrokerConfig config;
  std::unique_ptr<log::LogManager> logs;
  std::unique_ptr<TopicManager> topics;
  std::unique_ptr<ProducerIdAllocator> ids;
  std::unique_ptr<RequestHandler> handler;

  explicit Broker(bool auto_create = true) {
    config.auto_create_topics = auto_create;
    config.log_defaults.flush_ms = -1;
    config.log_defaults.segment_bytes = 1 << 20;
    config.log_defaults.max_message_bytes = 64 << 10;
    Open();
  }
  void Open() {
    log::LogManagerOptions o;
    o.data_dir = tmp.Sub("data");
    o.default_config = config.log_defaults;
    o.start_flusher = false;
    o.cleaner_enable = false;
    auto m = log::LogManager::Open(o);
    REQUIRE(m.ok());
    logs = std::move(*m);
    auto t = TopicManager::Open(logs.get(), config.log_defaults, o.data_dir);
    INFO(t.status().ToString());
    REQUIRE(t.ok());
    topics = std::move(*t);
    ids = std::make_unique<ProducerIdAllocator>(
        log::PosixFileSystem(), o.data_dir + "/producer-ids", 10);
    handler =
        std::make_unique<RequestHandler>(&config, topics.get(), ids.get());
  }
  void Reopen() {
    handler.reset();
    topics.reset();
    REQUIRE(logs->Close().ok());
    logs.reset();
    Open();
  }
  // A restart without any shutdown work (as after kill -9).
  void Crash() {
    handler.reset();
    topics.reset();
    ids.reset();
    logs.reset();
    Open();
  }
  // Runs one request; returns the response body (after the correlation id),
  // or nullopt when there is no response.
  std::optional<std::string> Call(std::string frame) {
    asio::io_context io;
    auto fut = asio::co_spawn(
        io,
        handler->Handle(
            std::span(reinterpret_cast<uint8_t*>(frame.data()), frame.size())),
        asio::use_future);
    io.run();
    auto handled = fut.get();
    INFO(handled.status().ToString());
    REQUIRE(handled.ok());
    if (handled->response == nullptr) return std::nullopt;
    std::string out;
    for (auto piece : handled->response->Finish()) {
      out.append(reinterpret_cast<const char*>(piece.data()), piece.size());
    }
    REQUIRE(out.size() >= 8);
    REQUIRE(log::internal::LoadBE<int32_t>(out.data()) ==
            static_cast<int32_t>(out.size() - 4));
    REQUIRE(log::internal::LoadBE<int32_t>(out.data() + 4) == 42);
    return out.substr(8);
  }
};

std::string Header(int16_t api, int16_t version) {
  std::string s;
  Writer w(&s);
  w.Int16(api);
  w.Int16(version);
  w.Int32(42);
  w.String("test");
  return s;
}

std::string Produce(std::string_view topic, int32_t partition,
                    const std::string& records, int16_t acks = 1) {
  std::string s = Header(kafka::kProduce, 7);
  Writer w(&s);
  w.NullableString(std::nullopt);
  w.Int16(acks);
  w.Int32(1000);
  w.ArrayLength(1);
  w.String(topic);
  w.ArrayLength(1);
  w.Int32(partition);
  w.Int32(static_cast<int32_t>(records.size()));
  s += records;
  return s;
}

struct ProduceResult {
  int16_t error;
  int64_t base_offset;
};
ProduceResult ParseProduce(const std::string& body) {
  std::string copy = body;
  Reader r(std::span(reinterpret_cast<uint8_t*>(copy.data()), copy.size()));
  REQUIRE(r.ArrayLength() == 1);
  r.String();
  REQUIRE(r.ArrayLength() == 1);
  r.Int32();
  ProduceResult res{r.Int16(), r.Int64()};
  r.Int64();  // log append time
  r.Int64();  // log start
  r.Int32();  // throttle
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
  return res;
}

std::string Fetch(std::string_view topic, int64_t offset, int32_t max_wait,
                  int32_t min_bytes) {
  std::string s = Header(kafka::kFetch, 11);
  Writer w(&s);
  w.Int32(-1);
  w.Int32(max_wait);
  w.Int32(min_bytes);
  w.Int32(1 << 20);
  w.Int8(0);
  w.Int32(0);
  w.Int32(-1);
  w.ArrayLength(1);
  w.String(topic);
  w.ArrayLength(1);
  w.Int32(0);
  w.Int32(-1);
  w.Int64(offset);
  w.Int64(-1);
  w.Int32(1 << 20);
  w.ArrayLength(0);
  w.String("");
  return s;
}

struct FetchResult {
  int16_t error;
  int64_t high_watermark;
  std::string records;
};
FetchResult ParseFetch(const std::string& body) {
  std::string copy = body;
  Reader r(std::span(reinterpret_cast<uint8_t*>(copy.data()), copy.size()));
  r.Int32();
  REQUIRE(r.Int16() == 0);
  r.Int32();
  REQUIRE(r.ArrayLength() == 1);
  r.String();
  REQUIRE(r.ArrayLength() == 1);
  r.Int32();
  FetchResult res;
  res.error = r.Int16();
  res.high_watermark = r.Int64();
  r.Int64();
  r.Int64();
  REQUIRE(r.ArrayLength() == 0);
  r.Int32();
  auto bytes = r.NullableBytes();
  REQUIRE(bytes.has_value());  // never null, even when empty
  res.records.assign(reinterpret_cast<const char*>(bytes->data()),
                     bytes->size());
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
  return res;
}

TEST_CASE(
    "Broker: a produced batch is fetched back byte for byte with its offset",
    "[broker][handler]") {
  Broker b;
  std::string batch = MakeBatch(5, "x", 50);
  auto first = ParseProduce(*b.Call(Produce("orders", 0, batch)));
  CHECK(first.error == 0);
  CHECK(first.base_offset == 0);
  auto second = ParseProduce(*b.Call(Produce("orders", 0, batch)));
  CHECK(second.base_offset == 5);
  auto f = ParseFetch(*b.Call(Fetch("orders", 5, 0, 0)));
  CHECK(f.error == 0);
  CHECK(f.high_watermark == 10);
  std::string expected = batch;
  log::StampBaseOffset(testing::Bytes(expected), Offset(5));
  CHECK(f.records == expected);
}

TEST_CASE("Broker: bad produce input gets the Kafka error and appends nothing",
          "[broker][handler]") {
  Broker b(/*auto_create=*/false);
  REQUIRE(b.topics->Create("t", 1, {}, false).ok());
  std::string bad_crc = MakeBatch(3);
  bad_crc.back() ^= 1;
  CHECK(ParseProduce(*b.Call(Produce("t", 0, bad_crc))).error ==
        kafka::kCorruptMessage);
  CHECK(
      ParseProduce(*b.Call(Produce("t", 0, MakeBatch(100, "v", 1000)))).error ==
      kafka::kMessageTooLarge);
  CHECK(ParseProduce(*b.Call(Produce("bad/name", 0, MakeBatch(1)))).error ==
        kafka::kInvalidTopic);
  CHECK(ParseProduce(*b.Call(Produce("missing", 0, MakeBatch(1)))).error ==
        kafka::kUnknownTopicOrPartition);
  CHECK(ParseProduce(*b.Call(Produce("t", 7, MakeBatch(1)))).error ==
        kafka::kUnknownTopicOrPartition);
  std::string old_format = MakeBatch(1);
  old_format[16] = 1;  // magic 1
  CHECK(ParseProduce(*b.Call(Produce("t", 0, old_format))).error ==
        kafka::kUnsupportedForMessageFormat);
  CHECK(
      ParseProduce(*b.Call(Produce("t", 0, MakeBatch(1), /*acks=*/2))).error ==
      kafka::kInvalidRequiredAcks);
  CHECK(b.topics->GetPartition("t", 0)->log().log_end_offset() == Offset(0));
  CHECK(!b.topics->Get("missing").has_value());
}

TEST_CASE("Broker: acks=0 gets no response but the batch is appended",
          "[broker][handler]") {
  Broker b;
  CHECK(!b.Call(Produce("fire", 0, MakeBatch(2), /*acks=*/0)).has_value());
  CHECK(b.topics->GetPartition("fire", 0)->log().log_end_offset() == Offset(2));
}

TEST_CASE("Broker: an unknown API or version gets UNSUPPORTED_VERSION",
          "[broker][handler]") {
  Broker b;
  for (auto [api, version] : {std::pair<int16_t, int16_t>{99, 0},
                              {kafka::kFetch, 3},
                              {kafka::kMetadata, 9}}) {
    auto body = b.Call(Header(api, version));
    REQUIRE(body.has_value());
    REQUIRE(body->size() == 2);
    CHECK(log::internal::LoadBE<int16_t>(body->data()) ==
          kafka::kUnsupportedVersion);
  }
  // ApiVersions v3 (flexible, librdkafka's opener): the v0 layout with the
  // error and the supported ranges, so the client retries lower.
  auto body =
      b.Call(Header(kafka::kApiVersions, 3) + std::string("\x00\x00\x00", 3));
  REQUIRE(body.has_value());
  CHECK(log::internal::LoadBE<int16_t>(body->data()) ==
        kafka::kUnsupportedVersion);
  CHECK(log::internal::LoadBE<int32_t>(body->data() + 2) ==
        static_cast<int32_t>(std::size(kafka::kSupportedApis)));
}

TEST_CASE("Broker: a malformed request is refused so the connection closes",
          "[broker][handler]") {
  Broker b;
  std::string frame = Produce("t", 0, MakeBatch(1));
  frame.resize(frame.size() - 10);  // records length now runs past the end
  asio::io_context io;
  auto fut = asio::co_spawn(
      io,
      b.handler->Handle(
          std::span(reinterpret_cast<uint8_t*>(frame.data()), frame.size())),
      asio::use_future);
  io.run();
  auto handled = fut.get();
  CHECK(absl::IsInvalidArgument(handled.status()));
}

TEST_CASE(
    "Broker: fetch past the end is OFFSET_OUT_OF_RANGE; at the end it is empty",
    "[broker][handler]") {
  Broker b;
  REQUIRE(ParseProduce(*b.Call(Produce("t", 0, MakeBatch(3)))).error == 0);
  CHECK(ParseFetch(*b.Call(Fetch("t", 4, 0, 0))).error ==
        kafka::kOffsetOutOfRange);
  auto at_end = ParseFetch(*b.Call(Fetch("t", 3, 0, 0)));
  CHECK(at_end.error == 0);
  CHECK(at_end.records.empty());
}

TEST_CASE("Broker: a long-poll fetch is woken by an append, not by its timeout",
          "[broker][handler][longpoll]") {
  Broker b;
  REQUIRE(ParseProduce(*b.Call(Produce("t", 0, MakeBatch(1)))).error == 0);
  asio::io_context io;
  std::string frame = Fetch("t", 1, /*max_wait=*/60'000, /*min_bytes=*/1);
  auto fut = asio::co_spawn(
      asio::make_strand(io),
      b.handler->Handle(
          std::span(reinterpret_cast<uint8_t*>(frame.data()), frame.size())),
      asio::use_future);
  std::thread runner([&] { io.run(); });
  // Parked: nothing to return yet.
  CHECK(fut.wait_for(std::chrono::milliseconds(200)) ==
        std::future_status::timeout);
  std::string batch = MakeBatch(2, "late");
  auto appended =
      b.topics->GetPartition("t", 0)->log().Append(testing::Bytes(batch));
  REQUIRE(appended.ok());
  b.topics->GetPartition("t", 0)->NotifyAppend();
  // Woken long before the 60 s MaxWaitTime.
  REQUIRE(fut.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  runner.join();
  auto handled = fut.get();
  REQUIRE(handled.ok());
  std::string body;
  for (auto piece : handled->response->Finish()) {
    body.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  }
  auto f = ParseFetch(body.substr(8));
  CHECK(f.high_watermark == 3);
  CHECK(testing::DecodeAll(testing::Bytes(f.records)).front().value ==
        "late-0");
}

TEST_CASE(
    "Broker: CreateTopics refuses duplicates, bad configs and replication it "
    "cannot give",
    "[broker][handler]") {
  Broker b;
  auto create = [&](std::string_view name, int32_t partitions, int16_t rf,
                    std::vector<std::pair<std::string, std::string>> configs) {
    std::string s = Header(kafka::kCreateTopics, 4);
    Writer w(&s);
    w.ArrayLength(1);
    w.String(name);
    w.Int32(partitions);
    w.Int16(rf);
    w.ArrayLength(0);
    w.ArrayLength(configs.size());
    for (auto& [k, v] : configs) {
      w.String(k);
      w.NullableString(v);
    }
    w.Int32(1000);
    w.Bool(false);
    std::string body = *b.Call(s);
    Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
    r.Int32();
    REQUIRE(r.ArrayLength() == 1);
    r.String();
    int16_t error = r.Int16();
    auto message = r.NullableString();
    REQUIRE(r.ok());
    return std::make_pair(error, std::string(message.value_or("")));
  };
  CHECK(create("c", 3, 1, {{"cleanup.policy", "compact"}}).first == 0);
  CHECK(create("c", 3, 1, {}).first == kafka::kTopicAlreadyExists);
  auto bad = create("d", 1, -1, {{"retention.ms", "soon"}});
  CHECK(bad.first == kafka::kInvalidConfig);
  CHECK_THAT(bad.second, Catch::Contains("retention.ms"));
  CHECK(create("e", 1, 3, {}).first == kafka::kInvalidReplicationFactor);
  CHECK(create("f", 0, 1, {}).first == kafka::kInvalidPartitions);
  CHECK(create("bad name", 1, 1, {}).first == kafka::kInvalidTopic);
  // Created topics and their configs survive a restart.
  b.Reopen();
  auto c = b.topics->Get("c");
  REQUIRE(c.has_value());
  CHECK(c->partitions == 3);
  CHECK(c->config.cleanup_compact);
  CHECK(b.topics->GetPartition("c", 2) != nullptr);
}

TEST_CASE("Broker: producer ids never repeat across restarts",
          "[broker][handler]") {
  Broker b;
  std::set<int64_t> seen;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 15; i++) {
      auto id = b.ids->Next();
      REQUIRE(id.ok());
      CHECK(seen.insert(*id).second);
    }
    b.Reopen();
  }
}

// ------------------------------------------------------------ idempotence

std::string InitProducerId() {
  std::string s = Header(kafka::kInitProducerId, 1);
  Writer w(&s);
  w.NullableString(std::nullopt);
  w.Int32(60000);
  return s;
}

std::pair<int16_t, int64_t> ParseInitProducerId(const std::string& body) {
  std::string copy = body;
  Reader r(std::span(reinterpret_cast<uint8_t*>(copy.data()), copy.size()));
  r.Int32();  // throttle
  int16_t error = r.Int16();
  int64_t id = r.Int64();
  CHECK(r.Int16() == 0);  // epoch
  REQUIRE(r.ok());
  REQUIRE(r.remaining() == 0);
  return {error, id};
}

TEST_CASE(
    "Broker: a retried idempotent batch gets its original base offset and is "
    "stored once",
    "[broker][handler][idempotence]") {
  Broker b;
  auto [error, pid] = ParseInitProducerId(*b.Call(InitProducerId()));
  REQUIRE(error == 0);
  const std::string first = testing::MakeProducerBatch(5, pid, 0, 0);
  const std::string second = testing::MakeProducerBatch(3, pid, 0, 5);
  CHECK(ParseProduce(*b.Call(Produce("idem", 0, first, -1))).base_offset == 0);
  CHECK(ParseProduce(*b.Call(Produce("idem", 0, MakeBatch(2)))).base_offset ==
        5);
  CHECK(ParseProduce(*b.Call(Produce("idem", 0, second, -1))).base_offset == 7);
  for (int retry = 0; retry < 3; retry++) {
    auto r1 = ParseProduce(*b.Call(Produce("idem", 0, first, -1)));
    CHECK(r1.error == 0);
    CHECK(r1.base_offset == 0);
    auto r2 = ParseProduce(*b.Call(Produce("idem", 0, second, 1)));
    CHECK(r2.error == 0);
    CHECK(r2.base_offset == 7);
  }
  CHECK(ParseFetch(*b.Call(Fetch("idem", 0, 0, 0))).high_watermark == 10);
  // Across a crash and a clean restart alike.
  b.Crash();
  CHECK(ParseProduce(*b.Call(Produce("idem", 0, second, -1))).base_offset == 7);
  b.Reopen();
  CHECK(ParseProduce(*b.Call(Produce("idem", 0, first, -1))).base_offset == 0);
  CHECK(ParseFetch(*b.Call(Fetch("idem", 0, 0, 0))).high_watermark == 10);
}

TEST_CASE(
    "Broker: refused idempotent batches get OUT_OF_ORDER_SEQUENCE, "
    "INVALID_PRODUCER_EPOCH, UNKNOWN_PRODUCER_ID or DUPLICATE_SEQUENCE",
    "[broker][handler][idempotence]") {
  Broker b;
  using testing::MakeProducerBatch;
  auto produce = [&](const std::string& batch) {
    return ParseProduce(*b.Call(Produce("seq", 0, batch, -1))).error;
  };
  REQUIRE(produce(MakeProducerBatch(2, 7, 1, 0)) == 0);
  CHECK(produce(MakeProducerBatch(2, 7, 1, 5)) ==
        kafka::kOutOfOrderSequenceNumber);
  CHECK(produce(MakeProducerBatch(2, 7, 0, 2)) == kafka::kInvalidProducerEpoch);
  CHECK(produce(MakeProducerBatch(2, 7, 2, 2)) ==
        kafka::kOutOfOrderSequenceNumber);
  CHECK(produce(MakeProducerBatch(2, 8, 0, 4)) == kafka::kUnknownProducerId);
  for (int i = 1; i < 7; i++) {
    REQUIRE(produce(MakeProducerBatch(2, 7, 1, 2 * i)) == 0);
  }
  // Sequence 0-1 is older than the five batches remembered.
  CHECK(produce(MakeProducerBatch(2, 7, 1, 0)) ==
        kafka::kDuplicateSequenceNumber);
  // A producer batch without a sequence is not a valid record.
  CHECK(produce(MakeProducerBatch(2, 9, 0, -1)) == kafka::kInvalidRecord);
  CHECK(ParseFetch(*b.Call(Fetch("seq", 0, 0, 0))).high_watermark == 14);
}

TEST_CASE(
    "Broker: a Produce with several batches of one producer is stored once "
    "and its retry answered with the first batch's offset",
    "[broker][handler][idempotence]") {
  Broker b;
  using testing::MakeProducerBatch;
  REQUIRE(ParseProduce(*b.Call(Produce("multi", 0, MakeBatch(4)))).error == 0);
  const std::string set = MakeProducerBatch(3, 11, 0, 0) +
                          MakeProducerBatch(2, 11, 0, 3) +
                          MakeProducerBatch(5, 11, 0, 5);
  for (int attempt = 0; attempt < 3; attempt++) {
    auto r = ParseProduce(*b.Call(Produce("multi", 0, set, -1)));
    CHECK(r.error == 0);
    CHECK(r.base_offset == 4);
  }
  CHECK(ParseFetch(*b.Call(Fetch("multi", 0, 0, 0))).high_watermark == 14);
  // A retried batch sent together with a new one is refused whole.
  const std::string mixed =
      MakeProducerBatch(5, 11, 0, 5) + MakeProducerBatch(1, 11, 0, 10);
  CHECK(ParseProduce(*b.Call(Produce("multi", 0, mixed, -1))).error ==
        kafka::kInvalidRecord);
  CHECK(ParseFetch(*b.Call(Fetch("multi", 0, 0, 0))).high_watermark == 14);
}

TEST_CASE("Kafka errors: each producer error maps to its own Kafka code",
          "[broker][idempotence]") {
  using log::ProducerError;
  using log::ProducerErrorStatus;
  CHECK(kafka::ErrorFromStatus(ProducerErrorStatus(
            ProducerError::kOutOfOrderSequence, "x")) == 45);
  CHECK(kafka::ErrorFromStatus(
            ProducerErrorStatus(ProducerError::kDuplicateSequence, "x")) == 46);
  CHECK(kafka::ErrorFromStatus(ProducerErrorStatus(
            ProducerError::kInvalidProducerEpoch, "x")) == 47);
  CHECK(kafka::ErrorFromStatus(
            ProducerErrorStatus(ProducerError::kUnknownProducerId, "x")) == 59);
  // Same codes without the payload mean something else.
  CHECK(kafka::ErrorFromStatus(absl::AlreadyExistsError("x")) ==
        kafka::kTopicAlreadyExists);
  CHECK(kafka::ErrorFromStatus(absl::FailedPreconditionError("x")) ==
        kafka::kUnknownServerError);
}

TEST_CASE(
    "Broker: InitProducerId never hands out an id twice, across clean "
    "restarts and crashes",
    "[broker][handler][idempotence]") {
  Broker b;
  std::set<int64_t> seen;
  for (int round = 0; round < 6; round++) {
    for (int i = 0; i < 13; i++) {
      auto [error, id] = ParseInitProducerId(*b.Call(InitProducerId()));
      REQUIRE(error == 0);
      CHECK(id >= 0);
      CHECK(seen.insert(id).second);
    }
    if (round % 2 == 0) {
      b.Crash();
    } else {
      b.Reopen();
    }
  }
  CHECK(seen.size() == 78);
}

}  // namespace
}  // namespace fjord::broker
