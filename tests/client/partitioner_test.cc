#include "client/internal/partitioner.h"

#include <set>
#include <string>

#include "catch2/catch.hpp"

namespace fjord::client::internal {
namespace {

// The vectors of apache/kafka's UtilsTest.testMurmur2.
TEST_CASE("Murmur2 matches Kafka's test vectors", "[client][partitioner]") {
  CHECK(Murmur2("21") == -973932308);
  CHECK(Murmur2("foobar") == -790332482);
  CHECK(Murmur2("a-little-bit-long-string") == -985981536);
  CHECK(Murmur2("a-little-bit-longer-string") == -1486304829);
  CHECK(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") ==
        -58897971);
  CHECK(Murmur2("abc") == 479470107);
}

TEST_CASE(
    "A key's partition is the positive murmur2 modulo the partition count, "
    "as in Kafka's default partitioner",
    "[client][partitioner]") {
  // toPositive(x) = x & 0x7fffffff, computed by hand from the vectors.
  const int64_t foobar = (-790332482LL) & 0x7fffffff;  // 1357151166
  CHECK(PartitionForKey("foobar", 6) == foobar % 6);
  CHECK(PartitionForKey("foobar", 1) == 0);
  const int64_t abc = 479470107;
  CHECK(PartitionForKey("abc", 7) == abc % 7);
  const int64_t v21 = (-973932308LL) & 0x7fffffff;
  CHECK(PartitionForKey("21", 12) == v21 % 12);
  // Every partition in range, and the same key always in the same place.
  for (int i = 0; i < 1000; i++) {
    std::string key = "key-" + std::to_string(i);
    int32_t p = PartitionForKey(key, 5);
    CHECK(p >= 0);
    CHECK(p < 5);
    CHECK(PartitionForKey(key, 5) == p);
  }
}

TEST_CASE("Murmur2 hashes the empty key and keys of every tail length",
          "[client][partitioner]") {
  // Tail lengths 0-3 exercise each case of the final switch; the empty key
  // hashes to seed ^ 0 mixed, a fixed value.
  CHECK(Murmur2("") == Murmur2(std::string_view("", 0)));
  std::set<int32_t> seen;
  for (size_t n = 0; n < 9; n++) seen.insert(Murmur2(std::string(n, 'x')));
  CHECK(seen.size() == 9);
}

TEST_CASE(
    "The sticky partition stays put until moved, and moves to another "
    "partition",
    "[client][partitioner]") {
  StickyPartition sticky;
  const int32_t first = sticky.Get(6);
  CHECK(first >= 0);
  CHECK(first < 6);
  for (int i = 0; i < 10; i++) CHECK(sticky.Get(6) == first);
  std::set<int32_t> visited = {first};
  int32_t current = first;
  for (int i = 0; i < 200; i++) {
    int32_t next = sticky.NextAfter(current, 6);
    CHECK(next != current);
    CHECK(sticky.Get(6) == next);
    visited.insert(next);
    current = next;
  }
  CHECK(visited.size() == 6);  // it spreads over every partition
  // A caller that saw an old partition does not move it again.
  int32_t now = sticky.Get(6);
  CHECK(sticky.NextAfter((now + 1) % 6, 6) == now);
  // With one partition there is nowhere else to go.
  StickyPartition one;
  CHECK(one.NextAfter(0, 1) == 0);
}

}  // namespace
}  // namespace fjord::client::internal
