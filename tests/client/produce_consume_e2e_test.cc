// End-to-end: the client's producer and consumer against a real broker.
#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "catch2/catch.hpp"
#include "client/internal/partitioner.h"
#include "tests/client/e2e_util.h"
#include "tests/util/metrics_scrape.h"

namespace fjord::testing {
namespace {

// What record `i` of a test run is: binary keys and values of varied
// sizes, null keys, null values, headers with and without values, explicit
// timestamps.
struct Expected {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<OwnedHeader> headers;
  int64_t timestamp;
};

Expected Make(int i, std::mt19937& rng) {
  Expected e;
  auto bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  };
  if (i % 7 != 3) e.key = "key-" + std::to_string(i) + bytes(i % 5);
  if (i % 11 != 5) e.value = bytes(static_cast<size_t>(rng() % 300));
  if (i % 3 == 0) e.headers.push_back({"h-" + std::to_string(i), bytes(4)});
  if (i % 6 == 0) e.headers.push_back({"null-valued", std::nullopt});
  e.timestamp = 1'700'000'000'000 + i * 3;
  return e;
}

void CheckMatches(const OwnedRecord& got, const Expected& want) {
  CHECK(got.key == want.key);
  CHECK(got.value == want.value);
  CHECK(got.headers == want.headers);
  CHECK(got.timestamp == want.timestamp);
}

TEST_CASE(
    "Produced records come back byte for byte: keys, null keys, null values, "
    "headers and timestamps, with each codec",
    "[client][e2e]") {
  TestBroker broker({"--set", "num.partitions=3"});
  for (const char* codec : {"none", "lz4", "zstd"}) {
    INFO("compression.type=" << codec);
    const std::string topic = std::string("roundtrip-") + codec;
    auto producer =
        Producer::Create(broker.Producer({{"compression.type", codec},
                                          {"linger.ms", "2"},
                                          {"batch.size", "20000"}}));
    REQUIRE(producer.ok());
    const int n = 3000;
    std::mt19937 rng(7);
    std::vector<Expected> expected;
    absl::Mutex mu;
    std::map<std::pair<int32_t, int64_t>, int> sent_at;  // (p, offset) -> i
    std::atomic<int> failures{0};
    for (int i = 0; i < n; i++) {
      expected.push_back(Make(i, rng));
      const Expected& e = expected.back();
      std::vector<Header> headers;
      for (const auto& h : e.headers) {
        Header hd;
        hd.key = h.key;
        if (h.value) hd.value = *h.value;
        headers.push_back(hd);
      }
      ProducerRecord r;
      r.topic = topic;
      if (e.key) r.key = *e.key;
      if (e.value) r.value = *e.value;
      r.headers = headers;
      r.timestamp = e.timestamp;
      if (i % 13 == 0) r.partition = 2;  // explicit
      const int32_t want_partition =
          r.partition ? *r.partition
          : e.key     ? client::internal::PartitionForKey(*e.key, 3)
                      : -1;
      (*producer)->Send(r, [&, i, want_partition](const absl::Status& s,
                                                  const RecordMetadata& md) {
        if (!s.ok()) {
          failures++;
          return;
        }
        absl::MutexLock l(&mu);
        if (want_partition >= 0 && md.partition != want_partition) failures++;
        if (md.topic != topic) failures++;
        if (md.timestamp != 1'700'000'000'000 + i * 3) failures++;
        sent_at[{md.partition, md.offset}] = i;
      });
    }
    REQUIRE((*producer)->Flush().ok());
    CHECK(failures.load() == 0);
    REQUIRE(sent_at.size() == static_cast<size_t>(n));
    auto got =
        ConsumeAll(broker.Consumer(), {{topic, 0}, {topic, 1}, {topic, 2}}, n);
    REQUIRE(got.size() == static_cast<size_t>(n));
    std::map<int32_t, int64_t> last;
    for (const OwnedRecord& r : got) {
      auto it = sent_at.find({r.partition, r.offset});
      REQUIRE(it != sent_at.end());
      CheckMatches(r, expected[it->second]);
      // Per partition, offsets increase and follow send order.
      if (last.count(r.partition)) CHECK(r.offset > last[r.partition]);
      last[r.partition] = r.offset;
    }
  }
}

TEST_CASE(
    "Null-key records stick to one partition per batch and spread over "
    "batches",
    "[client][e2e]") {
  TestBroker broker({"--set", "num.partitions=4"});
  auto producer = Producer::Create(
      broker.Producer({{"batch.size", "2000"}, {"linger.ms", "1000"}}));
  REQUIRE(producer.ok());
  absl::Mutex mu;
  std::vector<int32_t> partitions;
  for (int i = 0; i < 400; i++) {
    ProducerRecord r;
    r.topic = "sticky";
    std::string v(100, 'x');
    r.value = v;
    (*producer)->Send(r, [&](const absl::Status& s, const RecordMetadata& md) {
      absl::MutexLock l(&mu);
      partitions.push_back(s.ok() ? md.partition : -1);
    });
  }
  REQUIRE((*producer)->Flush().ok());
  REQUIRE(partitions.size() == 400);
  std::map<int32_t, int> per;
  int switches = 0;
  for (size_t i = 0; i < partitions.size(); i++) {
    CHECK(partitions[i] >= 0);
    per[partitions[i]]++;
    if (i > 0 && partitions[i] != partitions[i - 1]) switches++;
  }
  // ~18 records fill a 2000-byte batch: runs of that length, many of them.
  CHECK(per.size() >= 3);
  CHECK(switches >= 10);
  CHECK(switches <= 40);
}

TEST_CASE("Send with a future, Flush, Close, and Send after Close",
          "[client][e2e]") {
  TestBroker broker;
  auto producer = Producer::Create(broker.Producer({{"linger.ms", "0"}}));
  REQUIRE(producer.ok());
  ProducerRecord r;
  r.topic = "futures";
  r.key = "k";
  r.value = "v";
  auto first = SendSync(**producer, r);
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  CHECK(first->offset == 0);
  CHECK(first->partition == 0);
  CHECK(first->topic == "futures");
  CHECK(first->timestamp > 1'600'000'000'000);  // defaulted to now
  auto second = SendSync(**producer, r);
  REQUIRE(second.ok());
  CHECK(second->offset == 1);
  CHECK((*producer)->PartitionCount("futures").value() == 1);
  CHECK((*producer)->Close().ok());
  auto after = SendSync(**producer, r);
  CHECK(absl::IsFailedPrecondition(after.status()));
  CHECK((*producer)->Close().ok());  // idempotent
}

TEST_CASE(
    "Seek to an offset, the beginning, the end and a timestamp; Position "
    "follows Poll",
    "[client][e2e]") {
  TestBroker broker;
  auto producer = Producer::Create(broker.Producer());
  REQUIRE(producer.ok());
  for (int i = 0; i < 100; i++) {
    ProducerRecord r;
    r.topic = "seek";
    std::string v = "v" + std::to_string(i);
    r.value = v;
    r.timestamp = 1'000'000 + i * 10;
    (*producer)->Send(r, nullptr);
  }
  REQUIRE((*producer)->Flush().ok());
  auto c = Consumer::Create(broker.Consumer());
  REQUIRE(c.ok());
  Consumer& consumer = **c;
  const TopicPartition tp{"seek", 0};
  REQUIRE(consumer.Assign({tp}).ok());
  // auto.offset.reset=latest (the default): the end.
  CHECK(consumer.Position(tp).value() == 100);
  REQUIRE(consumer.Seek(tp, 42).ok());
  CHECK(consumer.Position(tp).value() == 42);
  auto got = PollRecords(consumer, 58);
  REQUIRE(got.size() == 58);
  CHECK(got.front().offset == 42);
  CHECK(got.front().value == "v42");
  CHECK(got.back().offset == 99);
  CHECK(consumer.Position(tp).value() == 100);
  REQUIRE(consumer.SeekToBeginning({tp}).ok());
  CHECK(consumer.Position(tp).value() == 0);
  REQUIRE(consumer.SeekToTimestamp(tp, 1'000'000 + 505).ok());
  CHECK(consumer.Position(tp).value() == 51);  // first ts >= 1000505
  got = PollRecords(consumer, 1);
  REQUIRE(!got.empty());
  CHECK(got.front().offset == 51);
  REQUIRE(consumer.SeekToTimestamp(tp, 9'000'000).ok());
  CHECK(consumer.Position(tp).value() == 100);  // none: the end
  REQUIRE(consumer.SeekToEnd({}).ok());
  CHECK(consumer.Position(tp).value() == 100);
  auto empty = consumer.Poll(std::chrono::milliseconds(100));
  REQUIRE(empty.ok());
  CHECK(empty->empty());
  CHECK(absl::IsFailedPrecondition(consumer.Seek({"other", 0}, 1)));
}

TEST_CASE(
    "Poll keeps returning what is produced while it polls, across the "
    "prefetch",
    "[client][e2e]") {
  TestBroker broker;
  auto producer = Producer::Create(broker.Producer({{"linger.ms", "1"}}));
  REQUIRE(producer.ok());
  auto c = Consumer::Create(broker.Consumer(
      {{"fetch.max.wait.ms", "50"}, {"max.partition.fetch.bytes", "4096"}}));
  REQUIRE(c.ok());
  ProducerRecord first;
  first.topic = "live";
  first.value = "x";
  REQUIRE(SendSync(**producer, first).ok());
  REQUIRE((*c)->Assign({{"live", 0}}).ok());
  REQUIRE((*c)->Seek({"live", 0}, 0).ok());
  std::thread writer([&] {
    for (int i = 1; i < 5000; i++) {
      ProducerRecord r;
      r.topic = "live";
      std::string v = std::to_string(i);
      r.value = v;
      (*producer)->Send(r, nullptr);
      if (i % 500 == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    (void)(*producer)->Flush();
  });
  auto got = PollRecords(**c, 5000);
  writer.join();
  REQUIRE(got.size() == 5000);
  for (size_t i = 0; i < got.size(); i++) {
    CHECK(got[i].offset == static_cast<int64_t>(i));
  }
}

TEST_CASE(
    "A partition whose prefetch buffer filled up before Poll is fetched "
    "again once Poll takes its answers",
    "[client][e2e]") {
  TestBroker broker;
  // One record per batch, and Fetches small enough to carry one batch each:
  // 40 records need 40 answers, far more than the two the consumer buffers.
  auto producer = Producer::Create(broker.Producer({{"linger.ms", "0"}}));
  REQUIRE(producer.ok());
  constexpr int kRecords = 40;
  for (int i = 0; i < kRecords; i++) {
    ProducerRecord r;
    r.topic = "held";
    std::string v = "record-" + std::to_string(i);
    r.value = v;
    REQUIRE(SendSync(**producer, r).ok());
  }
  auto c = Consumer::Create(broker.Consumer(
      {{"fetch.max.wait.ms", "50"}, {"max.partition.fetch.bytes", "1"}}));
  REQUIRE(c.ok());
  REQUIRE((*c)->Assign({{"held", 0}}).ok());
  REQUIRE((*c)->Seek({"held", 0}, 0).ok());
  // Let the fetcher fill the buffer and hold the partition back; from
  // then on only Poll taking answers lets it fetch again.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto got = PollRecords(**c, kRecords, std::chrono::seconds(10));
  REQUIRE(got.size() == kRecords);
  for (int i = 0; i < kRecords; i++) {
    CHECK(got[i].offset == i);
    CHECK(got[i].value == "record-" + std::to_string(i));
  }
}

TEST_CASE("Paused partitions are not returned until resumed", "[client][e2e]") {
  TestBroker broker({"--set", "num.partitions=2"});
  auto producer = Producer::Create(broker.Producer());
  REQUIRE(producer.ok());
  for (int p = 0; p < 2; p++) {
    for (int i = 0; i < 10; i++) {
      ProducerRecord r;
      r.topic = "pause";
      r.partition = p;
      r.value = "v";
      (*producer)->Send(r, nullptr);
    }
  }
  REQUIRE((*producer)->Flush().ok());
  auto c =
      Consumer::Create(broker.Consumer({{"auto.offset.reset", "earliest"}}));
  REQUIRE(c.ok());
  REQUIRE((*c)->Assign({{"pause", 0}, {"pause", 1}}).ok());
  (*c)->Pause({{"pause", 1}});
  CHECK((*c)->Paused() == std::vector<TopicPartition>{{"pause", 1}});
  auto got = PollRecords(**c, 10);
  CHECK(got.size() == 10);
  auto more = PollRecords(**c, 1, std::chrono::milliseconds(500));
  CHECK(more.empty());
  for (const auto& r : got) CHECK(r.partition == 0);
  (*c)->Resume({{"pause", 1}});
  auto rest = PollRecords(**c, 10);
  REQUIRE(rest.size() == 10);
  for (const auto& r : rest) CHECK(r.partition == 1);
}

TEST_CASE(
    "An offset out of range is a clear error with auto.offset.reset=none and "
    "a reset with earliest",
    "[client][e2e]") {
  TestBroker broker;
  auto producer = Producer::Create(broker.Producer());
  REQUIRE(producer.ok());
  for (int i = 0; i < 5; i++) {
    ProducerRecord r;
    r.topic = "range";
    r.value = "v";
    (*producer)->Send(r, nullptr);
  }
  REQUIRE((*producer)->Flush().ok());
  const TopicPartition tp{"range", 0};
  {
    auto c = Consumer::Create(broker.Consumer({{"auto.offset.reset", "none"}}));
    REQUIRE(c.ok());
    REQUIRE((*c)->Assign({tp}).ok());
    auto no_position = (*c)->Poll(std::chrono::milliseconds(100));
    CHECK(absl::IsFailedPrecondition(no_position.status()));
    CHECK(no_position.status().message().find("auto.offset.reset=none") !=
          std::string::npos);
    REQUIRE((*c)->Seek(tp, 1000).ok());
    absl::Status error;
    for (int i = 0; i < 50 && error.ok(); i++) {
      error = (*c)->Poll(std::chrono::milliseconds(100)).status();
    }
    CHECK(absl::IsOutOfRange(error));
    CHECK(error.message().find("offset 1000 is out of range for range-0") !=
          std::string::npos);
    // It stays until a seek clears it.
    CHECK(
        absl::IsOutOfRange((*c)->Poll(std::chrono::milliseconds(10)).status()));
    REQUIRE((*c)->Seek(tp, 3).ok());
    auto got = PollRecords(**c, 2);
    REQUIRE(got.size() == 2);
    CHECK(got[0].offset == 3);
  }
  {
    auto c =
        Consumer::Create(broker.Consumer({{"auto.offset.reset", "earliest"}}));
    REQUIRE(c.ok());
    REQUIRE((*c)->Assign({tp}).ok());
    REQUIRE((*c)->Seek(tp, 1000).ok());
    auto got = PollRecords(**c, 5);
    REQUIRE(got.size() == 5);
    CHECK(got[0].offset == 0);
  }
}

// The consumer's network work happens inside Poll (no network thread), so
// prefetching rests on Poll sending the next Fetch before it returns.
TEST_CASE(
    "Poll sends the next Fetch before returning, so records produced while "
    "the application works are already here at the next Poll",
    "[client][e2e]") {
  TestBroker broker;
  auto producer = Producer::Create(broker.Producer());
  REQUIRE(producer.ok());
  auto send = [&](int from, int n) {
    for (int i = from; i < from + n; i++) {
      ProducerRecord r;
      r.topic = "prefetch";
      r.partition = 0;
      const std::string value = "v" + std::to_string(i);
      r.value = value;  // a view: Send copies it
      (*producer)->Send(r, nullptr);
    }
    REQUIRE((*producer)->Flush().ok());
  };
  send(0, 10);
  auto c = Consumer::Create(broker.Consumer(
      {{"auto.offset.reset", "earliest"}, {"fetch.max.wait.ms", "5000"}}));
  REQUIRE(c.ok());
  REQUIRE((*c)->Assign({{"prefetch", 0}}).ok());
  REQUIRE(PollRecords(**c, 10).size() == 10);
  // The application "works"; the broker answers the parked Fetch as soon
  // as these arrive, long before its fetch.max.wait.ms.
  send(10, 5);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto polled = (*c)->Poll(std::chrono::milliseconds(0));
  REQUIRE(polled.ok());
  std::vector<std::string> values;
  for (const ConsumerRecord& r : *polled) values.emplace_back(*r.value);
  CHECK(values == std::vector<std::string>{"v10", "v11", "v12", "v13", "v14"});
}

TEST_CASE(
    "A consumer away from Poll for longer than request.timeout.ms keeps its "
    "connection and reads the answer that waited",
    "[client][e2e]") {
  TestBroker broker;
  auto producer = Producer::Create(broker.Producer());
  REQUIRE(producer.ok());
  ProducerRecord r;
  r.topic = "away";
  r.partition = 0;
  r.value = "first";
  (*producer)->Send(r, nullptr);
  REQUIRE((*producer)->Flush().ok());
  auto c = Consumer::Create(broker.Consumer({{"auto.offset.reset", "earliest"},
                                             {"request.timeout.ms", "300"},
                                             {"fetch.max.wait.ms", "50"}}));
  REQUIRE(c.ok());
  REQUIRE((*c)->Assign({{"away", 0}}).ok());
  REQUIRE(PollRecords(**c, 1).size() == 1);
  const auto accepted = [&] {
    return MetricValue(HttpGet(broker.process->metrics_port(), "/metrics"),
                       "fjord_connections_accepted_total");
  };
  const double before = accepted();
  REQUIRE(before > 0);
  r.value = "second";
  (*producer)->Send(r, nullptr);
  REQUIRE((*producer)->Flush().ok());
  const double after_send = accepted();
  // Away for 5 request timeouts; the Fetch in flight was answered at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const double after_sleep = accepted();
  INFO("after send " << after_send << " after sleep " << after_sleep);
  auto got = PollRecords(**c, 1, std::chrono::seconds(5));
  REQUIRE(got.size() == 1);
  CHECK(got[0].value == "second");
  CHECK(accepted() == before);  // no reconnect
}

}  // namespace
}  // namespace fjord::testing
