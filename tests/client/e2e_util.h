// Helpers for the client's end-to-end tests: a broker process per test,
// property sets pointing at it, and owned copies of consumed records.
// Not thread-safe.
#ifndef FJORD_TESTS_CLIENT_E2E_UTIL_H_
#define FJORD_TESTS_CLIENT_E2E_UTIL_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catch2/catch.hpp"
#include "client/internal/backoff.h"
#include "fjord/consumer.h"
#include "fjord/producer.h"
#include "tests/util/broker_process.h"
#include "tests/util/test_util.h"

namespace fjord::testing {

// A broker on a fresh data directory, started or the test fails.
struct TestBroker {
  explicit TestBroker(std::vector<std::string> args = {}) {
    BrokerProcess::Options o;
    o.data_dir = dir.Sub("data");
    o.args = std::move(args);
    process = MustStartBroker(std::move(o));
  }
  Properties Producer(Properties extra = {}) const {
    extra["bootstrap.servers"] = process->bootstrap();
    return extra;
  }
  Properties Consumer(Properties extra = {}) const {
    extra["bootstrap.servers"] = process->bootstrap();
    return extra;
  }
  TempDir dir;
  std::unique_ptr<BrokerProcess> process;
};

struct OwnedHeader {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const OwnedHeader&) const = default;
};

struct OwnedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<OwnedHeader> headers;
};

inline OwnedRecord Own(const ConsumerRecord& r) {
  OwnedRecord o;
  o.topic = std::string(r.topic);
  o.partition = r.partition;
  o.offset = r.offset;
  o.timestamp = r.timestamp;
  if (r.key) o.key = std::string(*r.key);
  if (r.value) o.value = std::string(*r.value);
  for (const Header& h : r.headers) {
    OwnedHeader oh{std::string(h.key), std::nullopt};
    if (h.value) oh.value = std::string(*h.value);
    o.headers.push_back(std::move(oh));
  }
  return o;
}

// Polls until `want` records arrived or `timeout` passed; fails the test on
// a Poll or decoding error.
inline std::vector<OwnedRecord> PollRecords(
    Consumer& c, size_t want,
    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  std::vector<OwnedRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    auto polled = c.Poll(std::chrono::milliseconds(200));
    INFO(polled.status().ToString());
    REQUIRE(polled.ok());
    for (const ConsumerRecord& r : *polled) out.push_back(Own(r));
    INFO(polled->status().ToString());
    REQUIRE(polled->status().ok());
  }
  return out;
}

// Every record of `partitions` from the beginning, until `want` arrived.
inline std::vector<OwnedRecord> ConsumeAll(
    const Properties& props, const std::vector<TopicPartition>& partitions,
    size_t want, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto c = Consumer::Create(props);
  REQUIRE(c.ok());
  REQUIRE((*c)->Assign(partitions).ok());
  REQUIRE((*c)->SeekToBeginning({}).ok());
  return PollRecords(**c, want, timeout);
}

// Runs a shell command, returning its exit status and stdout (binary-safe).
inline int Run(const std::string& command, std::string* out = nullptr) {
  FILE* f = ::popen(command.c_str(), "r");
  REQUIRE(f != nullptr);
  std::string buf;
  char chunk[65536];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0) buf.append(chunk, n);
  int status = ::pclose(f);
  if (out) *out = std::move(buf);
  return status;
}

// Sends one record and waits for its outcome.
inline absl::StatusOr<RecordMetadata> SendSync(Producer& p,
                                               const ProducerRecord& r) {
  return p.Send(r).get();
}

}  // namespace fjord::testing

#endif  // FJORD_TESTS_CLIENT_E2E_UTIL_H_
