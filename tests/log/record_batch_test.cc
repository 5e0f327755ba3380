#include "log/record_batch.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "log/compression.h"
#include "log/crc32c.h"
#include "log/internal/endian.h"
#include "log/internal/varint.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

using internal::LoadBE;
using internal::StoreBE;
using testing::Bytes;
namespace L = batch_layout;

const std::vector<Codec> kAllCodecs = {
    Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd};

// Bit-at-a-time CRC-32C, independent of log/crc32c.cc, for the golden bytes.
uint32_t ReferenceCrc32c(std::string_view s) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : s) {
    crc ^= c;
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

void AppendBE(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) {
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

// Rewrites the stored CRC so the batch passes ValidateBatch again.
void FixCrc(std::string* batch) {
  uint32_t crc = crc32c::Value(batch->data() + L::kAttributes,
                               batch->size() - L::kAttributes);
  StoreBE<uint32_t>(batch->data() + L::kCrc, crc);
}

// Rewrites batchLength to cover the whole string, then the CRC.
void FixLengthAndCrc(std::string* batch) {
  StoreBE<int32_t>(batch->data() + L::kBatchLength,
                   static_cast<int32_t>(batch->size() - L::kLogOverhead));
  FixCrc(batch);
}

// A batch header written field by field, followed by `records` verbatim, with
// a correct batchLength and CRC: lets tests hand the record parser anything.
std::string RawBatch(std::string_view records, int32_t record_count,
                     int32_t last_offset_delta, int64_t base_timestamp = 1000,
                     int64_t max_timestamp = 1000, int16_t attributes = 0) {
  std::string b;
  AppendBE(&b, 0, 8);                          // baseOffset
  AppendBE(&b, 0, 4);                          // batchLength
  AppendBE(&b, static_cast<uint32_t>(-1), 4);  // leader epoch
  b.push_back(2);                              // magic
  AppendBE(&b, 0, 4);                          // crc
  AppendBE(&b, static_cast<uint16_t>(attributes), 2);
  AppendBE(&b, static_cast<uint32_t>(last_offset_delta), 4);
  AppendBE(&b, static_cast<uint64_t>(base_timestamp), 8);
  AppendBE(&b, static_cast<uint64_t>(max_timestamp), 8);
  AppendBE(&b, static_cast<uint64_t>(-1), 8);  // producerId
  AppendBE(&b, static_cast<uint16_t>(-1), 2);  // producerEpoch
  AppendBE(&b, static_cast<uint32_t>(-1), 4);  // baseSequence
  AppendBE(&b, static_cast<uint32_t>(record_count), 4);
  REQUIRE(b.size() == L::kHeaderSize);
  b.append(records);
  FixLengthAndCrc(&b);
  return b;
}

// One record in Kafka's v2 record encoding, built with the varint helpers.
std::string RawRecord(int64_t ts_delta, int32_t off_delta,
                      std::optional<std::string_view> key,
                      std::optional<std::string_view> value,
                      std::string_view extra = "") {
  std::string body(1, '\0');
  internal::AppendVarint64(&body, ts_delta);
  internal::AppendVarint32(&body, off_delta);
  for (auto f : {key, value}) {
    internal::AppendVarint32(&body, f ? static_cast<int32_t>(f->size()) : -1);
    if (f) body.append(*f);
  }
  internal::AppendVarint32(&body, 0);  // headers
  body.append(extra);
  std::string rec;
  internal::AppendVarint32(&rec, static_cast<int32_t>(body.size()));
  return rec + body;
}

std::string MustBuild(BatchBuilder& builder) {
  auto built = builder.Build();
  INFO(built.status().ToString());
  REQUIRE(built.ok());
  return *std::move(built);
}

std::vector<Record> MustDecode(const std::string& batch, std::string* scratch) {
  auto v = ValidateBatch(Bytes(batch));
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  std::vector<Record> out;
  absl::Status s = DecodeRecords(Bytes(batch), scratch, &out);
  INFO(s.ToString());
  REQUIRE(s.ok());
  return out;
}

absl::StatusCode DecodeCode(const std::string& batch,
                            std::vector<Record>* out = nullptr) {
  std::string scratch;
  std::vector<Record> local;
  return DecodeRecords(Bytes(batch), &scratch, out ? out : &local).code();
}

// Owns the bytes a RecordInput points at.
struct Input {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  int64_t timestamp = 0;

  RecordInput View() const {
    RecordInput r;
    if (key) r.key = *key;
    if (value) r.value = *value;
    for (const auto& [k, v] : headers) {
      RecordHeader h;
      h.key = k;
      if (v) h.value = *v;
      r.headers.push_back(h);
    }
    r.timestamp = timestamp;
    return r;
  }
};

std::vector<Input> AssortedInputs() {
  std::vector<Input> in;
  in.push_back({"k", "v", {}, 1000});
  in.push_back({std::nullopt, "null key", {}, 1001});
  in.push_back({"tombstone", std::nullopt, {}, 1002});
  in.push_back({"", "", {}, 1003});
  in.push_back({std::nullopt, std::nullopt, {}, 990});  // negative delta
  in.push_back({std::string("\0bin\xff\x80key", 9),
                std::string("\0\x01\x02\xfe\xff", 5),
                {},
                -5});  // negative timestamp, large negative delta
  in.push_back({"with-headers",
                "v",
                {{"h1", "x"},
                 {"h2", std::nullopt},
                 {"", ""},
                 {"h1", std::string(200, 'h')}},
                5000});
  in.push_back({std::string(300, 'K'), std::string(20000, 'V'), {}, 4999});
  return in;
}

void CheckRecordsMatch(const std::vector<Record>& got,
                       const std::vector<Input>& want, int64_t base_offset) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); i++) {
    INFO("record " << i);
    const Record& r = got[i];
    CHECK(r.offset.value() == base_offset + static_cast<int64_t>(i));
    CHECK(r.timestamp == want[i].timestamp);
    REQUIRE(r.key.has_value() == want[i].key.has_value());
    if (r.key) CHECK(std::string(*r.key) == *want[i].key);
    REQUIRE(r.value.has_value() == want[i].value.has_value());
    if (r.value) CHECK(std::string(*r.value) == *want[i].value);
    REQUIRE(r.headers.size() == want[i].headers.size());
    for (size_t j = 0; j < r.headers.size(); j++) {
      INFO("header " << j);
      CHECK(std::string(r.headers[j].key) == want[i].headers[j].first);
      REQUIRE(r.headers[j].value.has_value() ==
              want[i].headers[j].second.has_value());
      if (r.headers[j].value) {
        CHECK(std::string(*r.headers[j].value) == *want[i].headers[j].second);
      }
    }
  }
}

// ------------------------------------------------------------------- varint

TEST_CASE("Zigzag varints round-trip boundary values with Kafka's encoding",
          "[log][record_batch][varint]") {
  SECTION("32-bit") {
    struct Case {
      int32_t v;
      std::string bytes;
    };
    const std::vector<Case> cases = {
        {0, std::string("\x00", 1)},
        {-1, "\x01"},
        {1, "\x02"},
        {-64, "\x7f"},
        {64, "\x80\x01"},
        {std::numeric_limits<int32_t>::max(), "\xfe\xff\xff\xff\x0f"},
        {std::numeric_limits<int32_t>::min(), "\xff\xff\xff\xff\x0f"},
    };
    for (const auto& c : cases) {
      INFO("value " << c.v);
      std::string enc;
      internal::AppendVarint32(&enc, c.v);
      CHECK(enc == c.bytes);
      const auto* p = reinterpret_cast<const uint8_t*>(enc.data());
      const auto* end = p + enc.size();
      auto got = internal::ReadVarint32(&p, end);
      REQUIRE(got.has_value());
      CHECK(*got == c.v);
      CHECK(p == end);
    }
  }
  SECTION("64-bit") {
    const std::vector<int64_t> values = {
        0,
        -1,
        1,
        63,
        -64,
        64,
        std::numeric_limits<int32_t>::max(),
        std::numeric_limits<int32_t>::min(),
        int64_t{std::numeric_limits<int32_t>::max()} + 1,
        std::numeric_limits<int64_t>::max(),
        std::numeric_limits<int64_t>::min()};
    for (int64_t v : values) {
      INFO("value " << v);
      std::string enc;
      internal::AppendVarint64(&enc, v);
      CHECK(static_cast<int>(enc.size()) == internal::VarintSize64(v));
      const auto* p = reinterpret_cast<const uint8_t*>(enc.data());
      const auto* end = p + enc.size();
      auto got = internal::ReadVarint64(&p, end);
      REQUIRE(got.has_value());
      CHECK(*got == v);
      CHECK(p == end);
    }
    std::string enc;
    internal::AppendVarint64(&enc, std::numeric_limits<int64_t>::min());
    CHECK(enc == "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    CHECK(internal::VarintSize64(0) == 1);
    CHECK(internal::VarintSize64(std::numeric_limits<int64_t>::max()) == 10);
  }
}

TEST_CASE("Truncated and overlong varints decode to nullopt without moving",
          "[log][record_batch][varint]") {
  // A truncated or overlong varint leaves the read position alone.
  auto read32 = [](std::string_view s, bool check_position = true) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const auto* start = p;
    auto v = internal::ReadVarint32(&p, p + s.size());
    if (!v && check_position) CHECK(p == start);
    return v;
  };
  auto read64 = [](std::string_view s) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const auto* start = p;
    auto v = internal::ReadVarint64(&p, p + s.size());
    if (!v) CHECK(p == start);
    return v;
  };
  SECTION("every proper prefix of a multi-byte varint is truncated") {
    std::string enc32, enc64;
    internal::AppendVarint32(&enc32, std::numeric_limits<int32_t>::min());
    internal::AppendVarint64(&enc64, std::numeric_limits<int64_t>::min());
    for (size_t n = 0; n < enc32.size(); n++) {
      INFO("prefix " << n);
      CHECK_FALSE(read32(std::string_view(enc32).substr(0, n)).has_value());
    }
    for (size_t n = 0; n < enc64.size(); n++) {
      INFO("prefix " << n);
      CHECK_FALSE(read64(std::string_view(enc64).substr(0, n)).has_value());
    }
  }
  SECTION("more than 5 bytes for 32 bits or 10 for 64 is overlong") {
    CHECK_FALSE(read32(std::string("\x80\x80\x80\x80\x80\x00", 6)).has_value());
    CHECK_FALSE(read32(std::string(40, '\xff')).has_value());
    CHECK_FALSE(
        read64(std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11))
            .has_value());
    CHECK_FALSE(read64(std::string(40, '\xff')).has_value());
  }
  SECTION("a 5-byte varint above 32 bits is rejected as a 32-bit varint") {
    CHECK_FALSE(read32("\xff\xff\xff\xff\x1f", false).has_value());
    CHECK(read64("\xff\xff\xff\xff\x1f").has_value());
  }
  SECTION("non-minimal but in-range encodings are accepted") {
    auto v = read32(std::string("\x82\x80\x00", 3));
    REQUIRE(v.has_value());
    CHECK(*v == 1);
  }
}

// ------------------------------------------------------------ builder/parse

TEST_CASE("BatchBuilder output decodes back byte-exactly with every codec",
          "[log][record_batch]") {
  const std::vector<Input> inputs = AssortedInputs();
  for (Codec codec : kAllCodecs) {
    INFO("codec " << CodecName(codec));
    BatchOptions options;
    options.codec = codec;
    options.base_offset = 4242;
    BatchBuilder builder(options);
    for (const auto& in : inputs) builder.Add(in.View());
    CHECK(builder.record_count() == static_cast<int>(inputs.size()));
    std::string batch = MustBuild(builder);
    std::string scratch;
    std::vector<Record> records = MustDecode(batch, &scratch);
    auto h = ParseBatchHeader(reinterpret_cast<const uint8_t*>(batch.data()),
                              batch.size());
    REQUIRE(h.ok());
    CHECK(h->codec() == codec);
    CHECK((h->attributes & ~L::kCodecMask) == 0);
    CheckRecordsMatch(records, inputs, 4242);
  }
}

TEST_CASE(
    "A compressed batch's payload decompresses to the uncompressed "
    "batch's record bytes",
    "[log][record_batch]") {
  const std::vector<Input> inputs = AssortedInputs();
  BatchBuilder plain_builder(BatchOptions{});
  for (const auto& in : inputs) plain_builder.Add(in.View());
  const size_t uncompressed = plain_builder.uncompressed_bytes();
  const std::string plain = MustBuild(plain_builder);
  REQUIRE(plain.size() == L::kHeaderSize + uncompressed);
  const std::string records = plain.substr(L::kHeaderSize);

  for (Codec codec : kAllCodecs) {
    INFO("codec " << CodecName(codec));
    BatchOptions options;
    options.codec = codec;
    BatchBuilder builder(options);
    for (const auto& in : inputs) builder.Add(in.View());
    std::string batch = MustBuild(builder);
    std::string payload;
    REQUIRE(Decompress(codec, std::string_view(batch).substr(L::kHeaderSize),
                       &payload)
                .ok());
    CHECK(payload == records);
    // Everything but the attributes, the CRC and batchLength is identical.
    for (size_t off : {L::kLastOffsetDelta, L::kBaseTimestamp, L::kMaxTimestamp,
                       L::kProducerId, L::kRecordCount}) {
      CHECK(batch.substr(off, 4) == plain.substr(off, 4));
    }
  }
}

TEST_CASE("BatchBuilder round-trips large keys and values",
          "[log][record_batch]") {
  std::string big(1 << 20, '\0');
  std::mt19937 rng(1);
  for (char& c : big) c = static_cast<char>(rng());
  std::vector<Input> inputs;
  inputs.push_back({std::string(70000, 'k'), big, {}, 7});
  inputs.push_back({"small", std::string(300000, 'z'), {}, 8});
  for (Codec codec : {Codec::kNone, Codec::kZstd, Codec::kLz4}) {
    INFO("codec " << CodecName(codec));
    BatchOptions options;
    options.codec = codec;
    BatchBuilder builder(options);
    for (const auto& in : inputs) builder.Add(in.View());
    std::string batch = MustBuild(builder);
    std::string scratch;
    CheckRecordsMatch(MustDecode(batch, &scratch), inputs, 0);
  }
}

TEST_CASE("BatchBuilder fills the header fields as Kafka expects",
          "[log][record_batch]") {
  SECTION("defaults") {
    BatchBuilder builder(BatchOptions{});
    for (int64_t ts : {2000, 1500, 3000, 2500}) {
      Input in{"k", "v", {}, ts};
      builder.Add(in.View());
    }
    std::string batch = MustBuild(builder);
    auto h = ValidateBatch(Bytes(batch));
    REQUIRE(h.ok());
    CHECK(h->base_offset == 0);
    CHECK(static_cast<size_t>(h->batch_length) == batch.size() - 12);
    CHECK(h->size_bytes() == batch.size());
    CHECK(h->partition_leader_epoch == -1);
    CHECK(h->magic == 2);
    CHECK(h->attributes == 0);
    CHECK(h->last_offset_delta == 3);
    CHECK(h->record_count == 4);
    CHECK(h->base_timestamp == 2000);  // the first record's, not the minimum
    CHECK(h->max_timestamp == 3000);
    CHECK(h->producer_id == -1);
    CHECK(h->producer_epoch == -1);
    CHECK(h->base_sequence == -1);
    CHECK(h->last().value() == 3);
    CHECK_FALSE(h->is_control());
    CHECK_FALSE(h->is_transactional());
    CHECK(h->crc == ReferenceCrc32c(std::string_view(batch).substr(21)));
    // The raw bytes agree with the decoded header.
    CHECK(LoadBE<int32_t>(batch.data() + 23) == 3);
    CHECK(LoadBE<int64_t>(batch.data() + 27) == 2000);
    CHECK(LoadBE<int64_t>(batch.data() + 35) == 3000);
    CHECK(LoadBE<int32_t>(batch.data() + 57) == 4);
  }
  SECTION("explicit options") {
    BatchOptions options;
    options.base_offset = 1234567890123;
    options.partition_leader_epoch = 5;
    options.producer_id = 77;
    options.producer_epoch = 3;
    options.base_sequence = 10;
    options.codec = Codec::kGzip;
    BatchBuilder builder(options);
    Input in{"k", "v", {}, 100};
    builder.Add(in.View());
    builder.Add(in.View());
    std::string batch = MustBuild(builder);
    auto h = ValidateBatch(Bytes(batch));
    REQUIRE(h.ok());
    CHECK(h->base_offset == 1234567890123);
    CHECK(h->partition_leader_epoch == 5);
    CHECK(h->producer_id == 77);
    CHECK(h->producer_epoch == 3);
    CHECK(h->base_sequence == 10);
    CHECK(h->codec() == Codec::kGzip);
    CHECK(h->last().value() == 1234567890124);
  }
  SECTION(
      "log append time sets the timestamp-type bit and every record "
      "reads the batch's max timestamp") {
    BatchOptions options;
    options.log_append_time = true;
    BatchBuilder builder(options);
    for (int64_t ts : {10, 30, 20}) {
      Input in{"k", "v", {}, ts};
      builder.Add(in.View());
    }
    std::string batch = MustBuild(builder);
    auto h = ValidateBatch(Bytes(batch));
    REQUIRE(h.ok());
    CHECK((h->attributes & L::kTimestampTypeBit) != 0);
    CHECK(h->max_timestamp == 30);
    std::string scratch;
    for (const Record& r : MustDecode(batch, &scratch))
      CHECK(r.timestamp == 30);
  }
}

TEST_CASE("BatchBuilder refuses an empty batch and is reusable after Build",
          "[log][record_batch]") {
  BatchBuilder builder(BatchOptions{});
  auto empty = builder.Build();
  CHECK(empty.status().code() == absl::StatusCode::kInvalidArgument);

  Input a{"a", "1", {}, 500};
  builder.Add(a.View());
  builder.Add(a.View());
  std::string first = MustBuild(builder);
  CHECK(builder.record_count() == 0);
  CHECK(builder.uncompressed_bytes() == 0);

  Input b{"b", "2", {}, 9000};
  builder.Add(b.View());
  std::string second = MustBuild(builder);
  auto h = ValidateBatch(Bytes(second));
  REQUIRE(h.ok());
  CHECK(h->record_count == 1);
  CHECK(h->last_offset_delta == 0);
  CHECK(h->base_timestamp == 9000);
  CHECK(h->max_timestamp == 9000);
  std::string scratch;
  CheckRecordsMatch(MustDecode(second, &scratch), {b}, 0);
}

// The expected bytes below are written out from the RecordBatch v2 layout in
// shared/KAFKA_PROTOCOL.md, not produced by the code under test.
TEST_CASE("A one-record batch matches hand-computed Kafka bytes",
          "[log][record_batch]") {
  BatchBuilder builder(BatchOptions{});
  Input in{"k", "v", {}, 1000};
  builder.Add(in.View());
  std::string got = MustBuild(builder);

  // Record: attributes 0, timestampDelta 0, offsetDelta 0, keyLength
  // zigzag(1) = 0x02, 'k', valueLength 0x02, 'v', headerCount 0: 8 bytes,
  // so the length prefix is zigzag(8) = 0x10.
  const std::string record("\x10\x00\x00\x00\x02k\x02v\x00", 9);
  std::string want;
  AppendBE(&want, 0, 8);                   // baseOffset
  AppendBE(&want, 61 - 12 + 9, 4);         // batchLength = 58
  AppendBE(&want, 0xffffffff, 4);          // partitionLeaderEpoch -1
  want.push_back(2);                       // magic
  AppendBE(&want, 0, 4);                   // crc, filled in below
  AppendBE(&want, 0, 2);                   // attributes
  AppendBE(&want, 0, 4);                   // lastOffsetDelta
  AppendBE(&want, 1000, 8);                // baseTimestamp
  AppendBE(&want, 1000, 8);                // maxTimestamp
  AppendBE(&want, 0xffffffffffffffff, 8);  // producerId -1
  AppendBE(&want, 0xffff, 2);              // producerEpoch -1
  AppendBE(&want, 0xffffffff, 4);          // baseSequence -1
  AppendBE(&want, 1, 4);                   // recordCount
  want += record;
  REQUIRE(want.size() == 70);
  uint32_t crc = ReferenceCrc32c(std::string_view(want).substr(21));
  want[17] = static_cast<char>(crc >> 24);
  want[18] = static_cast<char>(crc >> 16);
  want[19] = static_cast<char>(crc >> 8);
  want[20] = static_cast<char>(crc);

  CHECK(got == want);
  auto h = ValidateBatch(Bytes(want));
  REQUIRE(h.ok());
  CHECK(h->crc == crc);
}

TEST_CASE(
    "A two-record batch with a null key, a header and a negative "
    "timestamp delta matches hand-computed Kafka bytes",
    "[log][record_batch]") {
  BatchOptions options;
  options.base_offset = 5;
  options.partition_leader_epoch = 7;
  options.producer_id = 0x0102030405060708;
  options.producer_epoch = 9;
  options.base_sequence = 42;
  BatchBuilder builder(options);
  Input r0{"k", "v", {}, 1000};
  Input r1{std::nullopt, "v", {{"h", std::nullopt}}, 999};
  builder.Add(r0.View());
  builder.Add(r1.View());
  std::string got = MustBuild(builder);

  // r1: attributes 0, tsDelta zigzag(-1) = 0x01, offsetDelta zigzag(1) =
  // 0x02, keyLength zigzag(-1) = 0x01 (null), valueLength 0x02 'v',
  // headerCount 0x02, header key 0x02 'h', header value 0x01 (null):
  // 10 bytes, length prefix zigzag(10) = 0x14.
  const std::string records =
      std::string("\x10\x00\x00\x00\x02k\x02v\x00", 9) +
      std::string("\x14\x00\x01\x02\x01\x02v\x02\x02h\x01", 11);
  std::string want;
  AppendBE(&want, 5, 8);
  AppendBE(&want, 61 - 12 + 20, 4);  // 69
  AppendBE(&want, 7, 4);
  want.push_back(2);
  AppendBE(&want, 0, 4);
  AppendBE(&want, 0, 2);
  AppendBE(&want, 1, 4);     // lastOffsetDelta
  AppendBE(&want, 1000, 8);  // baseTimestamp: the first record's
  AppendBE(&want, 1000, 8);  // maxTimestamp
  AppendBE(&want, 0x0102030405060708, 8);
  AppendBE(&want, 9, 2);
  AppendBE(&want, 42, 4);
  AppendBE(&want, 2, 4);
  want += records;
  REQUIRE(want.size() == 81);
  uint32_t crc = ReferenceCrc32c(std::string_view(want).substr(21));
  StoreBE<uint32_t>(want.data() + 17, crc);

  CHECK(got == want);
  std::string scratch;
  auto recs = MustDecode(want, &scratch);
  REQUIRE(recs.size() == 2);
  CHECK(recs[1].offset.value() == 6);
  CHECK(recs[1].timestamp == 999);
  CHECK_FALSE(recs[1].key.has_value());
  REQUIRE(recs[1].headers.size() == 1);
  CHECK(recs[1].headers[0].key == "h");
  CHECK_FALSE(recs[1].headers[0].value.has_value());
}

// ---------------------------------------------------------------- integrity

TEST_CASE(
    "StampBaseOffset and StampPartitionLeaderEpoch touch only their "
    "fields and keep the batch valid",
    "[log][record_batch]") {
  const std::string original = testing::MakeBatch(3, "v", 40);
  std::string batch = original;
  StampBaseOffset(Bytes(batch), Offset(0x1122334455667788));
  for (size_t i = 8; i < batch.size(); i++) {
    if (batch[i] != original[i]) FAIL("StampBaseOffset changed byte " << i);
  }
  CHECK(LoadBE<int64_t>(batch.data()) == 0x1122334455667788);
  auto h = ValidateBatch(Bytes(batch));
  REQUIRE(h.ok());
  CHECK(h->base_offset == 0x1122334455667788);
  std::string scratch;
  auto recs = MustDecode(batch, &scratch);
  REQUIRE(recs.size() == 3);
  CHECK(recs[2].offset.value() == 0x1122334455667788 + 2);

  std::string stamped = batch;
  StampPartitionLeaderEpoch(Bytes(stamped), 0x0a0b0c0d);
  for (size_t i = 0; i < stamped.size(); i++) {
    if ((i < 12 || i >= 16) && stamped[i] != batch[i]) {
      FAIL("StampPartitionLeaderEpoch changed byte " << i);
    }
  }
  h = ValidateBatch(Bytes(stamped));
  REQUIRE(h.ok());
  CHECK(h->partition_leader_epoch == 0x0a0b0c0d);
}

TEST_CASE(
    "Any flipped bit in the CRC-covered bytes fails ValidateBatch as "
    "data loss",
    "[log][record_batch]") {
  for (Codec codec : {Codec::kNone, Codec::kZstd}) {
    INFO("codec " << CodecName(codec));
    std::string batch = testing::MakeBatch(3, "v", 10, 1000, codec);
    REQUIRE(ValidateBatch(Bytes(batch)).ok());
    for (size_t i = L::kAttributes; i < batch.size(); i++) {
      for (int bit = 0; bit < 8; bit++) {
        batch[i] ^= static_cast<char>(1 << bit);
        auto s = ValidateBatch(Bytes(batch)).status();
        batch[i] ^= static_cast<char>(1 << bit);
        if (s.code() != absl::StatusCode::kDataLoss) {
          FAIL("flip of byte " << i << " bit " << bit << " gave " << s);
        }
      }
    }
    // The CRC field itself.
    for (size_t i = L::kCrc; i < L::kAttributes; i++) {
      batch[i] ^= 0x10;
      CHECK(ValidateBatch(Bytes(batch)).status().code() ==
            absl::StatusCode::kDataLoss);
      batch[i] ^= 0x10;
    }
    CHECK(ValidateBatch(Bytes(batch)).ok());
  }
}

TEST_CASE("A batch truncated at any length is rejected, never over-read",
          "[log][record_batch]") {
  for (Codec codec : {Codec::kNone, Codec::kLz4}) {
    INFO("codec " << CodecName(codec));
    const std::string batch = testing::MakeBatch(4, "v", 30, 1000, codec);
    for (size_t n = 0; n < batch.size(); n++) {
      // A fresh heap copy of exactly n bytes so ASan catches any over-read.
      std::vector<uint8_t> cut(batch.begin(), batch.begin() + n);
      std::span<const uint8_t> span(cut.data(), cut.size());
      auto v = ValidateBatch(span);
      if (v.ok()) FAIL("ValidateBatch accepted " << n << " bytes");
      int visits = 0;
      absl::Status s =
          ForEachBatch(span, [&](const BatchHeader&, std::span<const uint8_t>) {
            visits++;
            return absl::OkStatus();
          });
      if (n == 0) {
        CHECK(s.ok());  // an empty record set is fine
      } else if (s.ok() || visits != 0) {
        FAIL("ForEachBatch accepted " << n << " bytes (" << visits
                                      << " visits)");
      } else if (s.code() != absl::StatusCode::kDataLoss) {
        FAIL("truncation at " << n << " gave " << s);
      }
    }
  }
}

TEST_CASE("ForEachBatch visits every batch of a concatenation in order",
          "[log][record_batch]") {
  std::string a = testing::MakeBatch(1, "a");
  std::string b = testing::MakeBatch(5, "b", 100, 2000, Codec::kSnappy);
  std::string c = testing::MakeBatch(2, "c");
  StampBaseOffset(Bytes(a), Offset(0));
  StampBaseOffset(Bytes(b), Offset(1));
  StampBaseOffset(Bytes(c), Offset(6));
  const std::string all = a + b + c;

  std::vector<std::pair<int64_t, size_t>> seen;
  std::vector<const uint8_t*> starts;
  absl::Status s = ForEachBatch(
      Bytes(all), [&](const BatchHeader& h, std::span<const uint8_t> batch) {
        seen.emplace_back(h.base_offset, batch.size());
        starts.push_back(batch.data());
        return absl::OkStatus();
      });
  REQUIRE(s.ok());
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::pair<int64_t, size_t>(0, a.size()));
  CHECK(seen[1] == std::pair<int64_t, size_t>(1, b.size()));
  CHECK(seen[2] == std::pair<int64_t, size_t>(6, c.size()));
  const auto* base = reinterpret_cast<const uint8_t*>(all.data());
  CHECK(starts[0] == base);
  CHECK(starts[1] == base + a.size());
  CHECK(starts[2] == base + a.size() + b.size());

  auto decoded = testing::DecodeAll(Bytes(all));
  REQUIRE(decoded.size() == 8);
  for (size_t i = 0; i < decoded.size(); i++) {
    CHECK(decoded[i].offset == static_cast<int64_t>(i));
  }

  SECTION("a callback error stops the walk and is returned") {
    int visits = 0;
    absl::Status err = ForEachBatch(Bytes(all), [&](const BatchHeader&,
                                                    std::span<const uint8_t>) {
      return ++visits == 2 ? absl::CancelledError("stop") : absl::OkStatus();
    });
    CHECK(err.code() == absl::StatusCode::kCancelled);
    CHECK(visits == 2);
  }
  SECTION("a corrupt middle batch is reported after visiting the first") {
    std::string bad = all;
    bad[a.size() + L::kHeaderSize + 3] ^= 1;
    int visits = 0;
    absl::Status err = ForEachBatch(
        Bytes(bad), [&](const BatchHeader&, std::span<const uint8_t>) {
          visits++;
          return absl::OkStatus();
        });
    CHECK(err.code() == absl::StatusCode::kDataLoss);
    CHECK(visits == 1);
  }
  SECTION("trailing garbage shorter than a header is data loss") {
    std::string bad = all + std::string(10, '\0');
    int visits = 0;
    absl::Status err = ForEachBatch(
        Bytes(bad), [&](const BatchHeader&, std::span<const uint8_t>) {
          visits++;
          return absl::OkStatus();
        });
    CHECK(err.code() == absl::StatusCode::kDataLoss);
    CHECK(visits == 3);
  }
}

TEST_CASE("Batches with a magic other than 2 are rejected",
          "[log][record_batch]") {
  std::string batch = testing::MakeBatch(2);
  for (int magic : {0, 1, 3, -1}) {
    INFO("magic " << magic);
    std::string bad = batch;
    bad[L::kMagic] = static_cast<char>(magic);  // outside the CRC
    CHECK(ValidateBatch(Bytes(bad)).status().code() ==
          absl::StatusCode::kDataLoss);
    CHECK(ParseBatchHeader(reinterpret_cast<const uint8_t*>(bad.data()),
                           bad.size())
              .status()
              .code() == absl::StatusCode::kDataLoss);
    int visits = 0;
    absl::Status s = ForEachBatch(
        Bytes(bad), [&](const BatchHeader&, std::span<const uint8_t>) {
          visits++;
          return absl::OkStatus();
        });
    CHECK_FALSE(s.ok());
    CHECK(visits == 0);
  }
}

TEST_CASE("Unknown codecs 5 to 7 are rejected even with a valid CRC",
          "[log][record_batch]") {
  const std::string batch = testing::MakeBatch(2);
  for (int codec = 5; codec <= 7; codec++) {
    INFO("codec id " << codec);
    std::string bad = batch;
    StoreBE<int16_t>(bad.data() + L::kAttributes, static_cast<int16_t>(codec));
    FixCrc(&bad);
    CHECK(ValidateBatch(Bytes(bad)).status().code() ==
          absl::StatusCode::kDataLoss);
    CHECK(DecodeCode(bad) == absl::StatusCode::kDataLoss);
  }
}

TEST_CASE("Header fields that cannot be right are rejected",
          "[log][record_batch]") {
  const std::string batch = testing::MakeBatch(2);
  auto check_rejected = [](std::string bad) {
    FixCrc(&bad);
    CHECK(ValidateBatch(Bytes(bad)).status().code() ==
          absl::StatusCode::kDataLoss);
  };
  SECTION("batchLength shorter than the header") {
    std::string bad = batch.substr(0, L::kHeaderSize);
    StoreBE<int32_t>(bad.data() + L::kBatchLength, 48);
    check_rejected(bad);
    StoreBE<int32_t>(bad.data() + L::kBatchLength, -1);
    check_rejected(bad);
  }
  SECTION("batchLength that disagrees with the bytes present") {
    std::string bad = batch + "x";
    check_rejected(bad);
  }
  SECTION("negative record count") {
    std::string bad = batch;
    StoreBE<int32_t>(bad.data() + L::kRecordCount, -1);
    check_rejected(bad);
  }
  SECTION("negative lastOffsetDelta") {
    std::string bad = batch;
    StoreBE<int32_t>(bad.data() + L::kLastOffsetDelta, -1);
    check_rejected(bad);
  }
  SECTION("offsets that overflow int64") {
    std::string bad = batch;
    StampBaseOffset(Bytes(bad), Offset(std::numeric_limits<int64_t>::max()));
    check_rejected(bad);
  }
}

// ----------------------------------------------------------- record parsing

TEST_CASE("DecodeRecords rejects malformed records as data loss",
          "[log][record_batch]") {
  const std::string good = RawRecord(0, 0, "k", "v");
  SECTION("the hand-built record itself decodes") {
    std::vector<Record> out;
    const std::string batch = RawBatch(good, 1, 0);  // outlives `out`'s views
    REQUIRE(DecodeCode(batch, &out) == absl::StatusCode::kOk);
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == "k");
  }
  SECTION("record count larger than the records present") {
    CHECK(DecodeCode(RawBatch(good, 2, 1)) == absl::StatusCode::kDataLoss);
  }
  SECTION("record count smaller than the records present") {
    CHECK(DecodeCode(RawBatch(good + RawRecord(0, 1, "k", "v"), 1, 1)) ==
          absl::StatusCode::kDataLoss);
    CHECK(DecodeCode(RawBatch(good, 0, 0)) == absl::StatusCode::kDataLoss);
  }
  SECTION("negative record length") {
    CHECK(DecodeCode(RawBatch(std::string("\x01") + good.substr(1), 1, 0)) ==
          absl::StatusCode::kDataLoss);
  }
  SECTION("record length past the batch") {
    std::string rec = good;
    rec[0] = 0x12;  // 9 bytes claimed, 8 present
    CHECK(DecodeCode(RawBatch(rec, 1, 0)) == absl::StatusCode::kDataLoss);
  }
  SECTION("empty record") {
    CHECK(DecodeCode(RawBatch(std::string("\x00", 1), 1, 0)) ==
          absl::StatusCode::kDataLoss);
  }
  SECTION("key length below -1") {
    std::string rec = good;
    rec[4] = 0x03;  // zigzag(-2)
    CHECK(DecodeCode(RawBatch(rec, 1, 0)) == absl::StatusCode::kDataLoss);
  }
  SECTION("key running past its record into the next") {
    std::string rec = RawRecord(0, 0, "k", "v");
    rec[4] = 0x0a;  // key length 5 inside an 8-byte record
    CHECK(DecodeCode(RawBatch(rec + RawRecord(0, 1, "k", "v"), 2, 1)) ==
          absl::StatusCode::kDataLoss);
  }
  SECTION("trailing bytes inside a record") {
    CHECK(DecodeCode(RawBatch(RawRecord(0, 0, "k", "v", "x"), 1, 0)) ==
          absl::StatusCode::kDataLoss);
    // Even when the trailing bytes would parse as the next record.
    const std::string nested =
        RawRecord(0, 0, "k", "v", RawRecord(0, 1, "k", "v"));
    CHECK(DecodeCode(RawBatch(nested, 2, 1)) == absl::StatusCode::kDataLoss);
  }
  SECTION("trailing bytes after the last record") {
    CHECK(DecodeCode(RawBatch(good + "x", 1, 0)) ==
          absl::StatusCode::kDataLoss);
  }
  SECTION("offset delta beyond lastOffsetDelta") {
    CHECK(DecodeCode(RawBatch(RawRecord(0, 1, "k", "v"), 1, 0)) ==
          absl::StatusCode::kDataLoss);
  }
  SECTION("offset deltas that do not increase") {
    CHECK(DecodeCode(RawBatch(good + RawRecord(0, 0, "k", "v"), 2, 1)) ==
          absl::StatusCode::kDataLoss);
    CHECK(DecodeCode(RawBatch(RawRecord(0, -1, "k", "v"), 1, 0)) ==
          absl::StatusCode::kDataLoss);
  }
  SECTION("offset deltas with gaps (a compacted batch) are accepted") {
    std::vector<Record> out;
    const std::string batch = RawBatch(good + RawRecord(0, 5, "k", "v"), 2, 5);
    CHECK(DecodeCode(batch, &out) == absl::StatusCode::kOk);
    REQUIRE(out.size() == 2);
    CHECK(out[1].offset.value() == 5);
  }
  SECTION("a header with a null key") {
    std::string body("\x00\x00\x00\x02k\x02v\x02\x01\x02x", 11);
    std::string rec;
    internal::AppendVarint32(&rec, static_cast<int32_t>(body.size()));
    CHECK(DecodeCode(RawBatch(rec + body, 1, 0)) ==
          absl::StatusCode::kDataLoss);
  }
  SECTION("a negative or oversized header count") {
    for (char count : {'\x01', '\x7e'}) {
      std::string body("\x00\x00\x00\x02k\x02v", 7);
      body.push_back(count);
      std::string rec;
      internal::AppendVarint32(&rec, static_cast<int32_t>(body.size()));
      CHECK(DecodeCode(RawBatch(rec + body, 1, 0)) ==
            absl::StatusCode::kDataLoss);
    }
  }
  SECTION("a varint field running past its record") {
    std::string body("\x00\xff\xff", 3);  // timestamp delta never ends
    std::string rec;
    internal::AppendVarint32(&rec, static_cast<int32_t>(body.size()));
    CHECK(DecodeCode(RawBatch(rec + body + good, 2, 1)) ==
          absl::StatusCode::kDataLoss);
  }
}

TEST_CASE("A hostile record count is rejected without a huge allocation",
          "[log][record_batch]") {
  const std::string records = RawRecord(0, 0, "k", "v");
  for (int32_t count : {std::numeric_limits<int32_t>::max(), 1 << 24, 1000}) {
    INFO("record count " << count);
    std::string batch =
        RawBatch(records, count, std::numeric_limits<int32_t>::max() - 1);
    REQUIRE(ValidateBatch(Bytes(batch)).ok());
    std::vector<Record> out;
    std::string scratch;
    absl::Status s;
    REQUIRE_NOTHROW(s = DecodeRecords(Bytes(batch), &scratch, &out));
    CHECK(s.code() == absl::StatusCode::kDataLoss);
    // Whatever was reserved must be bounded by the bytes, not the claim.
    CHECK(out.capacity() < 100);
  }
  SECTION("compressed") {
    std::string compressed;
    REQUIRE(Compress(Codec::kZstd, records, &compressed).ok());
    std::string batch =
        RawBatch(compressed, std::numeric_limits<int32_t>::max(),
                 std::numeric_limits<int32_t>::max() - 1, 1000, 1000,
                 static_cast<int16_t>(Codec::kZstd));
    std::vector<Record> out;
    std::string scratch;
    absl::Status s;
    REQUIRE_NOTHROW(s = DecodeRecords(Bytes(batch), &scratch, &out));
    CHECK(s.code() == absl::StatusCode::kDataLoss);
    CHECK(out.capacity() < 100);
  }
}

// baseTimestamp + timestampDelta must not overflow int64 (undefined behaviour,
// an abort under -fsanitize=undefined -fno-sanitize-recover); such a record is
// malformed.
TEST_CASE("A timestamp delta that overflows the base timestamp is data loss",
          "[log][record_batch]") {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  SECTION("overflow upwards") {
    std::string batch =
        RawBatch(RawRecord(kMax, 0, "k", "v"), 1, 0, 1000, 1000);
    CHECK(DecodeCode(batch) == absl::StatusCode::kDataLoss);
  }
  SECTION("overflow downwards") {
    std::string batch = RawBatch(RawRecord(kMin, 0, "k", "v"), 1, 0, -1000, 0);
    CHECK(DecodeCode(batch) == absl::StatusCode::kDataLoss);
  }
}

bool ViewsInside(const std::vector<Record>& recs, const void* lo,
                 const void* hi) {
  auto inside = [&](std::string_view v) {
    const auto* b = reinterpret_cast<const uint8_t*>(v.data());
    return v.empty() || (b >= static_cast<const uint8_t*>(lo) &&
                         b + v.size() <= static_cast<const uint8_t*>(hi));
  };
  for (const Record& r : recs) {
    if (r.key && !inside(*r.key)) return false;
    if (r.value && !inside(*r.value)) return false;
    for (const auto& h : r.headers) {
      if (!inside(h.key) || (h.value && !inside(*h.value))) return false;
    }
  }
  return true;
}

// Mutates the record bytes of a valid batch (overwrites, inserts, deletes,
// varint-ish bytes), fixes batchLength and the CRC so only the record parser
// can object, and checks that it either decodes within the batch or reports
// data loss.
TEST_CASE("DecodeRecords survives thousands of mutated record bodies",
          "[log][record_batch]") {
  std::vector<Input> inputs = {
      {"key-0", "value-0", {}, 1000},
      {std::nullopt, "value-1", {{"h", "x"}, {"n", std::nullopt}}, 1001},
      {"key-2", std::nullopt, {}, 990},
      {"", std::string(150, 'p'), {}, 1200},
      {"k4", "v4", {}, 1300}};
  BatchBuilder builder(BatchOptions{});
  for (const auto& in : inputs) builder.Add(in.View());
  const std::string original = MustBuild(builder);
  const std::string records = original.substr(L::kHeaderSize);

  std::mt19937 rng(0xF10D);
  const char interesting[] = {'\x00', '\x01', '\x02', '\x7f', '\x80',
                              '\xff', '\x0e', '\x10', '\x7e', '\x81'};
  auto random_byte = [&]() -> char {
    return rng() % 2 ? interesting[rng() % sizeof(interesting)]
                     : static_cast<char>(rng());
  };
  int ok = 0, data_loss = 0;
  for (int iter = 0; iter < 4000; iter++) {
    std::string body = records;
    int mutations = 1 + rng() % 4;
    for (int m = 0; m < mutations; m++) {
      size_t pos = body.empty() ? 0 : rng() % body.size();
      switch (rng() % 4) {
        case 0:
        case 1:
          if (!body.empty()) body[pos] = random_byte();
          break;
        case 2:
          body.insert(body.begin() + pos, random_byte());
          break;
        case 3:
          if (!body.empty()) body.erase(pos, 1 + rng() % 4);
          break;
      }
    }
    const bool compress = iter % 8 == 7;
    std::string batch;
    if (compress) {
      std::string z;
      REQUIRE(Compress(Codec::kLz4, body, &z).ok());
      batch = original.substr(0, L::kHeaderSize) + z;
      StoreBE<int16_t>(batch.data() + L::kAttributes,
                       static_cast<int16_t>(Codec::kLz4));
    } else {
      batch = original.substr(0, L::kHeaderSize) + body;
    }
    FixLengthAndCrc(&batch);
    if (!ValidateBatch(Bytes(batch)).ok()) FAIL("iteration " << iter);

    // An exact-size heap copy so ASan sees any over-read.
    std::vector<uint8_t> exact(batch.begin(), batch.end());
    std::string scratch;
    std::vector<Record> out;
    absl::Status s = DecodeRecords(exact, &scratch, &out);
    if (s.ok()) {
      ok++;
      const void* lo = compress ? static_cast<const void*>(scratch.data())
                                : exact.data() + L::kHeaderSize;
      const void* hi =
          compress ? static_cast<const void*>(scratch.data() + scratch.size())
                   : exact.data() + exact.size();
      if (out.size() != inputs.size() || !ViewsInside(out, lo, hi)) {
        FAIL("iteration " << iter << " decoded " << out.size()
                          << " records or views outside the batch");
      }
    } else if (s.code() == absl::StatusCode::kDataLoss) {
      data_loss++;
    } else {
      FAIL("iteration " << iter << ": " << s);
    }
  }
  INFO(ok << " decoded, " << data_loss << " data loss");
  CHECK(data_loss > 2000);
  CHECK(ok > 0);  // value-byte mutations still parse

  SECTION("random garbage bodies are data loss") {
    for (int iter = 0; iter < 1000; iter++) {
      std::string body(rng() % 200, '\0');
      for (char& c : body) c = static_cast<char>(rng());
      std::string batch = original.substr(0, L::kHeaderSize) + body;
      FixLengthAndCrc(&batch);
      std::vector<uint8_t> exact(batch.begin(), batch.end());
      std::string scratch;
      std::vector<Record> out;
      absl::Status s = DecodeRecords(exact, &scratch, &out);
      if (s.code() != absl::StatusCode::kDataLoss) {
        FAIL("garbage body " << iter << " gave " << s);
      }
    }
  }
}

TEST_CASE(
    "BatchBuilder Finish and Reset reuse the buffers, and MaxRecordBytes "
    "bounds what Add appends",
    "[log][record_batch]") {
  for (Codec codec : {Codec::kNone, Codec::kZstd}) {
    BatchOptions options;
    options.codec = codec;
    BatchBuilder builder(options);
    builder.Reserve(4096);
    std::vector<Input> inputs = AssortedInputs();
    for (int round = 0; round < 3; round++) {
      size_t bound = 0;
      for (const Input& in : inputs) {
        RecordInput view = in.View();
        const size_t before = builder.uncompressed_bytes();
        bound =
            BatchBuilder::MaxRecordBytes(view.key, view.value, view.headers);
        builder.Add(view.key, view.value, view.headers, view.timestamp);
        CHECK(builder.uncompressed_bytes() - before <= bound);
      }
      builder.SetProducer(77, 3, 1000 * round);
      auto done = builder.Finish();
      REQUIRE(done.ok());
      std::string batch(reinterpret_cast<const char*>(done->data()),
                        done->size());
      auto h = ValidateBatch(Bytes(batch));
      REQUIRE(h.ok());
      CHECK(h->producer_id == 77);
      CHECK(h->producer_epoch == 3);
      CHECK(h->base_sequence == 1000 * round);
      CHECK(h->codec() == codec);
      std::string scratch;
      CheckRecordsMatch(MustDecode(batch, &scratch), inputs, 0);
      builder.Reset(options);
      CHECK(builder.record_count() == 0);
      CHECK(builder.uncompressed_bytes() == 0);
    }
  }
}

}  // namespace
}  // namespace fjord::log

namespace fjord::log {
namespace {

TEST_CASE("A varint32 that does not fit leaves the read position where it was",
          "[log][varint]") {
  const uint8_t bytes[] = {0xff, 0xff, 0xff, 0xff, 0x7f};  // 35 bits
  const uint8_t* p = bytes;
  CHECK(!internal::ReadVarint32(&p, bytes + sizeof(bytes)).has_value());
  CHECK(p == bytes);
}

}  // namespace
}  // namespace fjord::log
