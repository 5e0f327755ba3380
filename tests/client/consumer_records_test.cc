#include "fjord/consumer_records.h"

#include <string>
#include <vector>

#include "catch2/catch.hpp"
#include "log/internal/endian.h"
#include "log/record_batch.h"
#include "tests/util/test_util.h"

namespace fjord {
namespace {

struct Owned {
  std::optional<std::string> key, value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  int64_t timestamp;
};

std::vector<Owned> Sample() {
  return {
      {"k0", "v0", {}, 1000},
      {std::nullopt, "null key", {{"h", "1"}}, 1001},
      {"tombstone", std::nullopt, {{"a", std::nullopt}, {"b", "2"}}, 999},
      {"", "", {}, 1005},
      {std::string("\0\xff\n", 3), std::string("bin\0ary", 7), {}, 1010},
  };
}

std::string Build(const std::vector<Owned>& in, log::Codec codec,
                  int64_t base_offset, bool log_append_time = false) {
  log::BatchOptions o;
  o.codec = codec;
  o.base_offset = base_offset;
  o.log_append_time = log_append_time;
  log::BatchBuilder b(o);
  for (const Owned& r : in) {
    std::vector<log::RecordHeader> hs;
    for (const auto& [k, v] : r.headers) {
      log::RecordHeader h;
      h.key = k;
      if (v) h.value = *v;
      hs.push_back(h);
    }
    std::optional<std::string_view> k, v;
    if (r.key) k = *r.key;
    if (r.value) v = *r.value;
    b.Add(k, v, hs, r.timestamp);
  }
  auto built = b.Build();
  REQUIRE(built.ok());
  return *built;
}

ConsumerRecords::Chunk ChunkOf(const std::string& batch, int64_t min_offset) {
  ConsumerRecords::Chunk c;
  c.topic = "topic";
  c.partition = 3;
  c.batch = testing::Bytes(batch);
  c.min_offset = min_offset;
  return c;
}

void CheckSame(const ConsumerRecord& got, const Owned& want, int64_t offset) {
  CHECK(got.topic == "topic");
  CHECK(got.partition == 3);
  CHECK(got.offset == offset);
  CHECK(got.timestamp == want.timestamp);
  CHECK(got.key.has_value() == want.key.has_value());
  if (want.key) CHECK(*got.key == *want.key);
  CHECK(got.value.has_value() == want.value.has_value());
  if (want.value) CHECK(*got.value == *want.value);
  REQUIRE(got.headers.size() == want.headers.size());
  size_t i = 0;
  for (const Header& h : got.headers) {
    CHECK(h.key == want.headers[i].first);
    CHECK(h.value.has_value() == want.headers[i].second.has_value());
    if (h.value) CHECK(*h.value == *want.headers[i].second);
    i++;
  }
  CHECK(i == want.headers.size());
}

TEST_CASE(
    "ConsumerRecords decodes keys, values, headers and timestamps of every "
    "codec, null keys and values included",
    "[client][records]") {
  for (log::Codec codec :
       {log::Codec::kNone, log::Codec::kGzip, log::Codec::kSnappy,
        log::Codec::kLz4, log::Codec::kZstd}) {
    INFO("codec " << log::CodecName(codec));
    auto in = Sample();
    std::string b1 = Build(in, codec, 100);
    std::string b2 = Build(in, codec, 105);
    ConsumerRecords set;
    REQUIRE(set.AddChunk(ChunkOf(b1, 100)).ok());
    REQUIRE(set.AddChunk(ChunkOf(b2, 100)).ok());
    CHECK(set.size() == 10);
    size_t n = 0;
    for (const ConsumerRecord& r : set) {
      CheckSame(r, in[n % 5], 100 + static_cast<int64_t>(n));
      CHECK(r.timestamp_type == TimestampType::kCreateTime);
      n++;
    }
    CHECK(n == 10);
    CHECK(set.status().ok());
    // A second pass decodes the same again.
    size_t again = 0;
    for (auto it = set.begin(); it != set.end(); ++it) again++;
    CHECK(again == 10);
  }
}

TEST_CASE("Records before the position in the first batch are skipped",
          "[client][records]") {
  for (log::Codec codec : {log::Codec::kNone, log::Codec::kZstd}) {
    auto in = Sample();
    std::string b = Build(in, codec, 10);
    ConsumerRecords set;
    REQUIRE(set.AddChunk(ChunkOf(b, 13)).ok());
    CHECK(set.size() == 2);
    std::vector<int64_t> offsets;
    for (const auto& r : set) offsets.push_back(r.offset);
    CHECK(offsets == std::vector<int64_t>{13, 14});
    ConsumerRecords none;
    REQUIRE(none.AddChunk(ChunkOf(b, 15)).ok());
    CHECK(none.empty());
    CHECK(none.begin() == none.end());
  }
}

TEST_CASE("LogAppendTime batches give every record the broker's time",
          "[client][records]") {
  auto in = Sample();
  std::string b = Build(in, log::Codec::kNone, 0, /*log_append_time=*/true);
  ConsumerRecords set;
  REQUIRE(set.AddChunk(ChunkOf(b, 0)).ok());
  const int64_t max_ts = log::internal::LoadBE<int64_t>(
      b.data() + log::batch_layout::kMaxTimestamp);
  for (const auto& r : set) {
    CHECK(r.timestamp_type == TimestampType::kLogAppendTime);
    CHECK(r.timestamp == max_ts);
  }
}

TEST_CASE("A malformed record stops iteration with kDataLoss, not a crash",
          "[client][records]") {
  auto in = Sample();
  std::string b = Build(in, log::Codec::kNone, 0);
  // Claim more records than the batch holds (the CRC is not rechecked here:
  // the consumer checks it before building the set).
  log::internal::StoreBE<int32_t>(b.data() + log::batch_layout::kRecordCount,
                                  6);
  ConsumerRecords set;
  REQUIRE(set.AddChunk(ChunkOf(b, 0)).ok());
  size_t n = 0;
  for (const auto& r : set) {
    (void)r;
    n++;
  }
  CHECK(n == 5);
  CHECK(absl::IsDataLoss(set.status()));
  // A record count that runs past the bytes, before the position: refused
  // while counting.
  ConsumerRecords skip;
  CHECK(absl::IsDataLoss(skip.AddChunk(ChunkOf(b, 3))));
  // Garbage where the records should be.
  std::string g = Build(in, log::Codec::kNone, 0);
  for (size_t i = log::batch_layout::kHeaderSize; i < g.size(); i++) {
    g[i] = static_cast<char>(0xff);
  }
  ConsumerRecords bad;
  REQUIRE(bad.AddChunk(ChunkOf(g, 0)).ok());
  for (const auto& r : bad) (void)r;
  CHECK(absl::IsDataLoss(bad.status()));
}

}  // namespace
}  // namespace fjord
