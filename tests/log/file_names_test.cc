#include "log/file_names.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace fjord::log {
namespace {

TEST_CASE("SegmentFileName pads the base offset to 20 digits",
          "[log][file_names]") {
  CHECK(SegmentFileName("/data/t-0", Offset(42), kLogSuffix) ==
        "/data/t-0/00000000000000000042.log");
  CHECK(SegmentFileName("d", Offset(0), kIndexSuffix) ==
        "d/00000000000000000000.index");
  CHECK(SegmentFileName("d", Offset(std::numeric_limits<int64_t>::max()),
                        kTimeIndexSuffix) == "d/09223372036854775807.timeindex");
  CHECK(SegmentFileName("d", Offset(12345678901234567), kLogSuffix) ==
        "d/00012345678901234567.log");
}

TEST_CASE("ParseSegmentFileName round-trips SegmentFileName",
          "[log][file_names]") {
  for (int64_t base : {int64_t{0}, int64_t{1}, int64_t{42}, int64_t{1} << 40,
                       std::numeric_limits<int64_t>::max()}) {
    for (std::string_view suffix :
         {kLogSuffix, kIndexSuffix, kTimeIndexSuffix}) {
      std::string path = SegmentFileName("dir", Offset(base), suffix);
      std::string name = path.substr(4);  // strip "dir/"
      INFO(name);
      auto parsed = ParseSegmentFileName(name);
      REQUIRE(parsed.has_value());
      CHECK(parsed->base.value() == base);
      CHECK(parsed->suffix == suffix);
    }
  }
}

TEST_CASE("ParseSegmentFileName rejects names that are not 20 digits and a "
          "suffix",
          "[log][file_names]") {
  const std::vector<std::string> bad = {
      "",
      ".log",
      "42.log",
      "0000000000000000042.log",   // 19 digits
      "0000000000000000004a.log",  // hex digit
      "000000000000000000 2.log",
      "-0000000000000000042.log",
      "+0000000000000000042.log",
      " 0000000000000000042.log",
      "99999999999999999999.log",  // does not fit int64
      "recovery-point-checkpoint",
      "abcdefghijklmnopqrstuvwxyz.log",
  };
  for (const auto& name : bad) {
    INFO("'" << name << "'");
    CHECK_FALSE(ParseSegmentFileName(name).has_value());
  }
}

TEST_CASE("PartitionDirName and ParsePartitionDirName round-trip, topics with "
          "dashes included",
          "[log][file_names]") {
  const std::vector<TopicPartition> tps = {
      {"orders", 0},
      {"my-topic", 12},
      {"a", 2147483647},
      {"with.dots_and-dashes-", 3},
      {"-leading-dash", 1},
      {"trailing-", 1},
      {std::string(249, 'x'), 7},
  };
  for (const auto& tp : tps) {
    std::string name = PartitionDirName(tp);
    INFO(name);
    auto parsed = ParsePartitionDirName(name);
    REQUIRE(parsed.has_value());
    CHECK(parsed->topic == tp.topic);
    CHECK(parsed->partition == tp.partition);
  }
  CHECK(PartitionDirName({"my-topic", 12}) == "my-topic-12");
  auto parsed = ParsePartitionDirName("my-topic-12");
  REQUIRE(parsed.has_value());
  CHECK(*parsed == TopicPartition{"my-topic", 12});
  // The partition is after the last dash: "t--1" is partition 1 of "t-",
  // never partition -1 of "t".
  parsed = ParsePartitionDirName("t--1");
  REQUIRE(parsed.has_value());
  CHECK(*parsed == TopicPartition{"t-", 1});
}

TEST_CASE("ParsePartitionDirName rejects deleted, malformed and illegal names",
          "[log][file_names]") {
  const std::vector<std::string> bad = {
      "",
      "orders",
      "12",
      "-12",
      "orders-",
      "orders-x",
      "orders-1x",
      "orders-x1",
      "orders-1.5",
      "orders- 1",
      "orders-1 ",
      "orders-+1",
      "orders-2147483648",  // beyond int32
      "orders-99999999999999999999",
      "orders-12.deleted",
      "orders-12.1700000000000.deleted",
      "my-topic-12.deleted",
      "bad topic-1",
      "a/b-1",
      "t\xc3\xa4-1",  // non-ASCII
      ".-0",
      "..-0",
      std::string(250, 'x') + "-0",
      ".lock",
      "recovery-point-checkpoint",
  };
  for (const auto& name : bad) {
    INFO("'" << name << "'");
    CHECK_FALSE(ParsePartitionDirName(name).has_value());
  }
}

TEST_CASE("IsValidTopicName follows Kafka's rule", "[log][file_names]") {
  CHECK(IsValidTopicName("a"));
  CHECK(IsValidTopicName("Orders_2024.v1-eu"));
  CHECK(IsValidTopicName("..."));
  CHECK(IsValidTopicName("-"));
  CHECK(IsValidTopicName("_"));
  CHECK(IsValidTopicName(std::string(249, 'a')));
  CHECK_FALSE(IsValidTopicName(std::string(250, 'a')));
  CHECK_FALSE(IsValidTopicName(""));
  CHECK_FALSE(IsValidTopicName("."));
  CHECK_FALSE(IsValidTopicName(".."));
  for (std::string_view bad :
       {"a b", "a/b", "a\\b", "a+b", "a:b", "a*b", "a\nb", "caf\xc3\xa9"}) {
    INFO("'" << bad << "'");
    CHECK_FALSE(IsValidTopicName(bad));
  }
  CHECK_FALSE(IsValidTopicName(std::string_view("a\0b", 3)));
  // Every single byte outside [a-zA-Z0-9._-] is illegal.
  for (int c = 0; c < 256; c++) {
    bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    std::string name = "x" + std::string(1, static_cast<char>(c));
    if (IsValidTopicName(name) != legal) FAIL("byte " << c);
  }
}

}  // namespace
}  // namespace fjord::log

namespace fjord::log {
namespace {

TEST_CASE("A partition directory has one spelling: leading zeros are not a partition",
          "[log][file_names]") {
  CHECK(!ParsePartitionDirName("t-01").has_value());
  CHECK(!ParsePartitionDirName("t-00").has_value());
  auto zero = ParsePartitionDirName("t-0");
  REQUIRE(zero.has_value());
  CHECK(zero->partition == 0);
}

}  // namespace
}  // namespace fjord::log
