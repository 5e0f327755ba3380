#include "log/offset_map.h"

#include <string>

#include "catch2/catch.hpp"

namespace fjord::log {
namespace {

TEST_CASE("OffsetMap: keeps the latest offset put for each key",
          "[log][offset_map]") {
  OffsetMap map(1 << 20);
  CHECK_FALSE(map.Get("a").has_value());
  REQUIRE(map.Put("a", 1));
  REQUIRE(map.Put("b", 2));
  REQUIRE(map.Put("a", 7));
  CHECK(map.Get("a") == 7);
  CHECK(map.Get("b") == 2);
  CHECK_FALSE(map.Get("c").has_value());
  CHECK(map.size() == 2);
}

TEST_CASE("OffsetMap: a full map refuses new keys but updates known ones",
          "[log][offset_map]") {
  // 10 slots at a 0.5 load factor: 5 keys.
  OffsetMap map(10 * OffsetMap::kSlotBytes, 0.5);
  REQUIRE(map.max_entries() == 5);
  for (int i = 0; i < 5; i++) REQUIRE(map.Put("k" + std::to_string(i), i));
  CHECK_FALSE(map.Put("new", 100));
  CHECK_FALSE(map.Get("new").has_value());
  CHECK(map.Put("k3", 42));
  CHECK(map.Get("k3") == 42);
  CHECK(map.size() == 5);
}

TEST_CASE("OffsetMap: memory is taken on first use, not at construction",
          "[log][offset_map]") {
  OffsetMap map(64 << 20);
  CHECK(map.memory_bytes() == 0);
  CHECK_FALSE(map.Get("x").has_value());
  CHECK(map.memory_bytes() == 0);
  map.Clear();
  CHECK(map.memory_bytes() ==
        (64 << 20) / OffsetMap::kSlotBytes * OffsetMap::kSlotBytes);
}

TEST_CASE("OffsetMap: Clear forgets every key", "[log][offset_map]") {
  OffsetMap map(1 << 16);
  for (int i = 0; i < 100; i++) REQUIRE(map.Put("k" + std::to_string(i), i));
  map.Clear();
  CHECK(map.size() == 0);
  for (int i = 0; i < 100; i++) {
    CHECK_FALSE(map.Get("k" + std::to_string(i)).has_value());
  }
  REQUIRE(map.Put("k1", 5));
  CHECK(map.Get("k1") == 5);
}

}  // namespace
}  // namespace fjord::log
