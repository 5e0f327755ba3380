// __consumer_offsets records: Kafka's group hashing and the byte layouts of
// keys and values (broker/coordinator/README.md).
#include "broker/coordinator/records.h"

#include <catch2/catch.hpp>
#include <string>

namespace fjord::coordinator {
namespace {

std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

TEST_CASE("JavaStringHashCode: matches java.lang.String.hashCode",
          "[coordinator][records]") {
  // Values of "s".hashCode() in Java.
  CHECK(JavaStringHashCode("") == 0);
  CHECK(JavaStringHashCode("a") == 97);
  CHECK(JavaStringHashCode("hello") == 99162322);
  CHECK(JavaStringHashCode("Aa") == JavaStringHashCode("BB"));  // 2112
  CHECK(JavaStringHashCode("Aa") == 2112);
  CHECK(JavaStringHashCode("my-consumer-group") == 1513705513);
  CHECK(JavaStringHashCode("analytics") == -1693017210);
  CHECK(JavaStringHashCode("polygenelubricants") == INT32_MIN);
  // Non-ASCII: hashed over UTF-16 code units, surrogate pairs included.
  CHECK(JavaStringHashCode("\xc3\xa9") == 0xe9);             // é
  CHECK(JavaStringHashCode("\xe2\x82\xac") == 0x20ac);       // €
  CHECK(JavaStringHashCode("\xf0\x9f\x98\x80") == 1772899);  // U+1F600
  // An invalid byte counts as U+FFFD, as Java's decoder replaces it.
  CHECK(JavaStringHashCode("\xff") == 0xfffd);
}

TEST_CASE("OffsetsPartitionFor: abs(hashCode) % partitions, as Kafka",
          "[coordinator][records]") {
  CHECK(OffsetsPartitionFor("hello", 50) == 99162322 % 50);
  CHECK(OffsetsPartitionFor("my-consumer-group", 50) == 1513705513 % 50);
  CHECK(OffsetsPartitionFor("analytics", 50) == 10);  // |-1693017210| % 50
  CHECK(OffsetsPartitionFor("group-1", 50) == 49);
  // Kafka's Utils.abs maps Integer.MIN_VALUE to 0.
  CHECK(OffsetsPartitionFor("polygenelubricants", 50) == 0);
  for (int n : {1, 3, 50}) {
    for (const char* g : {"a", "group-1", "\xe2\x82\xac"}) {
      const int32_t p = OffsetsPartitionFor(g, n);
      CHECK(p >= 0);
      CHECK(p < n);
    }
  }
}

TEST_CASE(
    "Records: an offset commit key and value are Kafka's OffsetCommitKey v1 "
    "and OffsetCommitValue v3, byte for byte",
    "[coordinator][records]") {
  const std::string key = EncodeOffsetCommitKey("g", TopicPartition{"t", 5});
  CHECK(Hex(key) ==
        "0001"        // key version 1
        "000167"      // group "g"
        "000174"      // topic "t"
        "00000005");  // partition 5
  OffsetAndMetadata v{42, -1, "md", 1700000000000};
  const std::string value = EncodeOffsetCommitValue(v);
  CHECK(Hex(value) ==
        "0003"                // value version 3
        "000000000000002a"    // offset 42
        "ffffffff"            // leader epoch -1
        "00026d64"            // metadata "md"
        "0000018bcfe56800");  // commit timestamp
  auto k = DecodeRecordKey(key);
  REQUIRE(k.ok());
  CHECK(std::get<OffsetCommitKey>(*k) ==
        OffsetCommitKey{"g", TopicPartition{"t", 5}});
  auto back = DecodeOffsetCommitValue(value);
  REQUIRE(back.ok());
  CHECK(back->offset == 42);
  CHECK(back->leader_epoch == -1);
  CHECK(back->metadata == "md");
  CHECK(back->commit_timestamp_ms == 1700000000000);
}

TEST_CASE("Records: the group key and value round-trip in their layout",
          "[coordinator][records]") {
  const std::string key = EncodeGroupMetadataKey("grp");
  CHECK(Hex(key) ==
        "0003"
        "0003677270");
  const std::string value =
      EncodeGroupMetadataValue(GroupMetadataValue{"consumer", 7});
  CHECK(Hex(value) ==
        "0000"                  // value version 0
        "0008636f6e73756d6572"  // "consumer"
        "0000000000000007");    // created_ms
  auto k = DecodeRecordKey(key);
  REQUIRE(k.ok());
  CHECK(std::get<GroupMetadataKey>(*k) == GroupMetadataKey{"grp"});
  auto v = DecodeGroupMetadataValue(value);
  REQUIRE(v.ok());
  CHECK(*v == GroupMetadataValue{"consumer", 7});
}

TEST_CASE(
    "Records: truncated or padded bytes are DataLoss, unknown versions "
    "Unimplemented",
    "[coordinator][records]") {
  const std::string key = EncodeOffsetCommitKey("group", {"topic", 1});
  for (size_t n = 0; n < key.size(); n++) {
    INFO("key cut to " << n);
    CHECK(absl::IsDataLoss(DecodeRecordKey(key.substr(0, n)).status()));
  }
  CHECK(absl::IsDataLoss(DecodeRecordKey(key + "x").status()));
  const std::string value = EncodeOffsetCommitValue({1, -1, "m", 2});
  for (size_t n = 0; n < value.size(); n++) {
    INFO("value cut to " << n);
    CHECK(
        absl::IsDataLoss(DecodeOffsetCommitValue(value.substr(0, n)).status()));
  }
  CHECK(absl::IsDataLoss(DecodeOffsetCommitValue(value + "x").status()));
  // A string length past the end.
  CHECK(absl::IsDataLoss(
      DecodeRecordKey(std::string("\x00\x01\x7f\xff", 4)).status()));
  // A negative string length.
  CHECK(absl::IsDataLoss(
      DecodeRecordKey(std::string("\x00\x03\xff\xff", 4)).status()));
  CHECK(absl::IsUnimplemented(
      DecodeRecordKey(std::string("\x00\x09\x00\x00", 4)).status()));
  CHECK(absl::IsUnimplemented(
      DecodeOffsetCommitValue(std::string("\x00\x04", 2)).status()));
  CHECK(absl::IsUnimplemented(
      DecodeGroupMetadataValue(std::string("\x00\x01", 2)).status()));
  // Kafka's OffsetCommitKey v0 has the v1 layout.
  std::string v0 = key;
  v0[1] = 0;
  CHECK(DecodeRecordKey(v0).ok());
}

}  // namespace
}  // namespace fjord::coordinator
