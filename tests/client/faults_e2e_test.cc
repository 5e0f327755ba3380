// End-to-end failure cases: every one ends in a clear status for the
// caller within its timeout, never a hang or a silent drop.
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "catch2/catch.hpp"
#include "fjord/admin.h"
#include "tests/client/e2e_util.h"

namespace fjord::testing {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t)
      .count();
}

bool Contains(absl::string_view s, const std::string& part) {
  return s.find(part) != absl::string_view::npos;
}

TEST_CASE(
    "Unreachable bootstrap servers give a clear status within max.block.ms "
    "and delivery.timeout.ms",
    "[client][e2e][faults]") {
  // Port 1 on loopback: connections are refused at once.
  auto producer = Producer::Create({{"bootstrap.servers", "127.0.0.1:1"},
                                    {"max.block.ms", "700"},
                                    {"request.timeout.ms", "500"},
                                    {"delivery.timeout.ms", "1000"}});
  REQUIRE(producer.ok());
  ProducerRecord r;
  r.topic = "nowhere";
  r.value = "v";
  const auto start = Clock::now();
  auto sent = SendSync(**producer, r);
  const int64_t took = MsSince(start);
  INFO(sent.status().ToString());
  CHECK(absl::IsUnavailable(sent.status()));
  CHECK(Contains(sent.status().message(), "no metadata for topic 'nowhere'"));
  CHECK(Contains(sent.status().message(), "127.0.0.1:1"));
  CHECK(took >= 600);
  CHECK(took < 5000);
  CHECK((*producer)->Flush(std::chrono::seconds(5)).ok());

  auto consumer = Consumer::Create({{"bootstrap.servers", "127.0.0.1:1"}});
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->Assign({{"nowhere", 0}}).ok());
  auto polled = (*consumer)->Poll(std::chrono::milliseconds(300));
  REQUIRE(polled.ok());
  CHECK(polled->empty());
  auto position =
      (*consumer)->Position({"nowhere", 0}, std::chrono::milliseconds(500));
  INFO(position.status().ToString());
  CHECK(absl::IsDeadlineExceeded(position.status()));
  CHECK(Contains(position.status().message(), "127.0.0.1:1"));
}

TEST_CASE("An unknown topic with auto-create off is kNotFound",
          "[client][e2e][faults]") {
  TestBroker broker({"--set", "auto.create.topics.enable=false"});
  auto producer = Producer::Create(broker.Producer({{"max.block.ms", "800"}}));
  REQUIRE(producer.ok());
  ProducerRecord r;
  r.topic = "missing";
  r.value = "v";
  const auto start = Clock::now();
  auto sent = SendSync(**producer, r);
  INFO(sent.status().ToString());
  CHECK(absl::IsNotFound(sent.status()));
  CHECK(Contains(sent.status().message(), "topic 'missing' does not exist"));
  CHECK(MsSince(start) < 5000);
  auto bad = r;
  bad.topic = "bad/name";
  CHECK(absl::IsInvalidArgument(SendSync(**producer, bad).status()));

  auto consumer = Consumer::Create(broker.Consumer());
  REQUIRE(consumer.ok());
  REQUIRE((*consumer)->Assign({{"missing", 0}}).ok());
  absl::Status error;
  for (int i = 0; i < 50 && error.ok(); i++) {
    error = (*consumer)->Poll(std::chrono::milliseconds(100)).status();
  }
  INFO(error.ToString());
  CHECK(absl::IsNotFound(error));
  CHECK(Contains(error.message(), "topic 'missing' does not exist"));
}

TEST_CASE(
    "A record over the topic's max.message.bytes fails with "
    "MESSAGE_TOO_LARGE; the next one goes through",
    "[client][e2e][faults]") {
  TestBroker broker;
  auto admin = Admin::Create({{"admin.servers", broker.process->admin()}});
  REQUIRE(admin.ok());
  NewTopic t;
  t.name = "small";
  t.partitions = 1;
  t.configs["max.message.bytes"] = "10000";
  REQUIRE((*admin)->CreateTopic(t).ok());
  auto producer = Producer::Create(broker.Producer());
  REQUIRE(producer.ok());
  ProducerRecord big;
  big.topic = "small";
  std::string value(20000, 'x');
  big.value = value;
  auto sent = SendSync(**producer, big);
  INFO(sent.status().ToString());
  CHECK(absl::IsInvalidArgument(sent.status()));
  CHECK(Contains(sent.status().message(), "MESSAGE_TOO_LARGE"));
  CHECK(Contains(sent.status().message(), "small-0"));
  ProducerRecord ok = big;
  ok.value = "fits";
  auto second = SendSync(**producer, ok);
  INFO(second.status().ToString());
  CHECK(second.ok());
}

TEST_CASE(
    "A record larger than buffer.memory fails at once; a full buffer fails "
    "after max.block.ms",
    "[client][e2e][faults]") {
  TestBroker broker;
  auto producer =
      Producer::Create(broker.Producer({{"buffer.memory", "5000"},
                                        {"max.block.ms", "300"},
                                        {"request.timeout.ms", "2000"},
                                        {"delivery.timeout.ms", "6000"}}));
  REQUIRE(producer.ok());
  ProducerRecord r;
  r.topic = "t";
  std::string huge(10000, 'x');
  r.value = huge;
  auto s = SendSync(**producer, r);
  CHECK(absl::IsInvalidArgument(s.status()));
  CHECK(Contains(s.status().message(), "buffer.memory"));
  std::string small(1000, 'y');
  r.value = small;
  // The first send also creates the topic and takes a producer id: on a
  // loaded machine that can take a while, hence delivery.timeout.ms 6 s.
  auto first = SendSync(**producer, r);
  INFO(first.status().ToString());
  REQUIRE(first.ok());  // the topic's metadata is known
  // With the broker gone nothing drains: the fifth kilobyte has no room.
  broker.process->Kill();
  std::atomic<int> exhausted{0};
  const auto start = Clock::now();
  for (int i = 0; i < 5; i++) {
    (*producer)->Send(r, [&](const absl::Status& st, const RecordMetadata&) {
      if (absl::IsResourceExhausted(st)) {
        exhausted++;
        CHECK(Contains(st.message(), "max.block.ms"));
      }
    });
  }
  CHECK(exhausted.load() == 1);
  CHECK(MsSince(start) >= 250);
  // The four queued kilobytes fail after delivery.timeout.ms.
  CHECK((*producer)->Flush(std::chrono::seconds(20)).ok());
}

TEST_CASE(
    "A broker killed mid-stream: pending sends fail within "
    "delivery.timeout.ms, nothing hangs",
    "[client][e2e][faults]") {
  TestBroker broker;
  auto producer =
      Producer::Create(broker.Producer({{"delivery.timeout.ms", "3000"},
                                        {"request.timeout.ms", "1000"},
                                        {"linger.ms", "0"},
                                        {"retry.backoff.ms", "50"}}));
  REQUIRE(producer.ok());
  ProducerRecord r;
  r.topic = "killed";
  r.value = "before";
  for (int i = 0; i < 1000; i++) (*producer)->Send(r, nullptr);
  REQUIRE((*producer)->Flush().ok());
  broker.process->Kill();
  std::atomic<int> done{0}, failed{0};
  absl::Mutex mu;
  std::set<absl::StatusCode> codes;
  const auto start = Clock::now();
  r.value = "after";
  for (int i = 0; i < 200; i++) {
    (*producer)->Send(r, [&](const absl::Status& s, const RecordMetadata&) {
      done++;
      if (!s.ok()) {
        failed++;
        absl::MutexLock l(&mu);
        codes.insert(s.code());
      }
    });
  }
  CHECK((*producer)->Flush(std::chrono::seconds(20)).ok());
  const int64_t took = MsSince(start);
  CHECK(done.load() == 200);
  CHECK(failed.load() == 200);
  CHECK(codes ==
        std::set<absl::StatusCode>{absl::StatusCode::kDeadlineExceeded});
  CHECK(took >= 2500);
  CHECK(took < 6000);
  CHECK((*producer)->Close(std::chrono::seconds(5)).ok());
}

// Acknowledged records must all be there after a crash and restart, and
// none twice: retries of batches the broker appended before it died are
// recognised by their sequence numbers and not appended again.
TEST_CASE(
    "A broker restarted mid-production with idempotence on loses nothing "
    "acknowledged and duplicates nothing",
    "[client][e2e][faults]") {
  TestBroker broker({"--set", "num.partitions=3"});
  auto producer =
      Producer::Create(broker.Producer({{"enable.idempotence", "true"},
                                        {"linger.ms", "1"},
                                        {"batch.size", "4000"},
                                        {"request.timeout.ms", "2000"},
                                        {"retry.backoff.ms", "20"}}));
  REQUIRE(producer.ok());
  const int n = 30000;
  absl::Mutex mu;
  std::set<int> acked;
  std::atomic<int> acked_count{0};
  std::atomic<int> failed{0};
  // The kill comes once a third is acknowledged, with more in flight and
  // queued, whatever the machine's speed (a fixed delay could fall before
  // the first record or after the last).
  std::atomic<int> at_kill{-1};
  std::atomic<bool> restarted{false};
  std::string restart_error;
  std::thread restarter([&] {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (acked_count.load() < n / 3 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    at_kill = acked_count.load();
    broker.process->Kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    absl::Status s = broker.process->Restart();
    if (!s.ok()) {
      restart_error = s.ToString();
      return;
    }
    restarted = true;
  });
  for (int i = 0; i < n; i++) {
    std::string key = absl::StrFormat("k%d", i % 97);
    std::string value = absl::StrFormat("seq-%d", i);
    ProducerRecord r;
    r.topic = "restart";
    r.key = key;
    r.value = value;
    (*producer)->Send(r, [&, i](const absl::Status& s, const RecordMetadata&) {
      if (!s.ok()) {
        failed++;
        return;
      }
      absl::MutexLock l(&mu);
      acked.insert(i);
      acked_count++;
    });
    if (i % 1000 == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE((*producer)->Flush(std::chrono::seconds(60)).ok());
  restarter.join();
  INFO(restart_error);
  REQUIRE(restarted.load());
  INFO("acknowledged before the kill: " << at_kill.load());
  CHECK(at_kill.load() >= n / 3);
  CHECK(at_kill.load() < n);  // the kill fell mid-production
  CHECK(broker.process->Log().find("unclean stop") != std::string::npos);
  CHECK(failed.load() == 0);
  CHECK(acked.size() == static_cast<size_t>(n));
  auto got = ConsumeAll(broker.Consumer(),
                        {{"restart", 0}, {"restart", 1}, {"restart", 2}},
                        acked.size(), std::chrono::seconds(30));
  std::map<int, int> seen;
  for (const auto& rec : got) {
    REQUIRE(rec.value);
    seen[std::stoi(rec.value->substr(4))]++;
  }
  size_t lost = 0;
  for (int i : acked) lost += seen.count(i) ? 0 : 1;
  CHECK(lost == 0);  // nothing acknowledged is missing
  size_t duplicated = 0;
  for (const auto& [i, count] : seen) duplicated += count > 1 ? 1 : 0;
  INFO("records appended more than once: " << duplicated);
  CHECK(duplicated == 0);
}

}  // namespace
}  // namespace fjord::testing
