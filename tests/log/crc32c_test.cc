#include "log/crc32c.h"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace fjord::log {
namespace {

// A bit-at-a-time CRC-32C straight from the definition (reflected polynomial
// 0x82F63B78, initial and final XOR 0xFFFFFFFF), independent of both code
// paths under test.
uint32_t ReferenceCrc(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

std::vector<unsigned char> RandomBuffer(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>(rng());
  return v;
}

TEST_CASE("CRC-32C of \"123456789\" is the standard check value 0xE3069283",
          "[log][crc32c]") {
  CHECK(crc32c::Value("123456789") == 0xE3069283u);
  CHECK(crc32c::internal::ExtendPortable(0, "123456789", 9) == 0xE3069283u);
  CHECK(ReferenceCrc(0, "123456789", 9) == 0xE3069283u);
}

TEST_CASE("CRC-32C matches the RFC 3720 iSCSI test vectors", "[log][crc32c]") {
  unsigned char zeros[32] = {};
  unsigned char ones[32];
  unsigned char ascending[32];
  unsigned char descending[32];
  for (int i = 0; i < 32; i++) {
    ones[i] = 0xff;
    ascending[i] = static_cast<unsigned char>(i);
    descending[i] = static_cast<unsigned char>(31 - i);
  }
  CHECK(crc32c::Value(zeros, 32) == 0x8A9136AAu);
  CHECK(crc32c::Value(ones, 32) == 0x62A8AB43u);
  CHECK(crc32c::Value(ascending, 32) == 0x46DD794Eu);
  CHECK(crc32c::Value(descending, 32) == 0x113FDB5Cu);
  CHECK(crc32c::internal::ExtendPortable(0, ascending, 32) == 0x46DD794Eu);
}

TEST_CASE("CRC-32C of no bytes leaves the running CRC unchanged",
          "[log][crc32c]") {
  CHECK(crc32c::Value("", 0) == 0u);
  CHECK(crc32c::Extend(0xE3069283u, "", 0) == 0xE3069283u);
  CHECK(crc32c::internal::ExtendPortable(0x12345678u, "", 0) == 0x12345678u);
}

TEST_CASE("Hardware and portable CRC-32C agree on every length and alignment",
          "[log][crc32c]") {
  INFO("hardware accelerated: " << crc32c::HardwareAccelerated());
  constexpr size_t kMax = 70000;
  const std::vector<unsigned char> buf = RandomBuffer(kMax + 16, 20240501);

  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 300; n++) lengths.push_back(n);
  // Around the thresholds of the three-stream loops (3 x 256 and 3 x 8192)
  // and their multiples, where the tail handling changes.
  for (size_t edge : {size_t{256} * 3, size_t{256} * 6, size_t{8192} * 3,
                      size_t{8192} * 3 + 256 * 3, size_t{8192} * 6}) {
    for (size_t d = 0; d <= 17; d++) {
      lengths.push_back(edge - d);
      lengths.push_back(edge + d);
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 60; i++) lengths.push_back(rng() % (kMax + 1));
  lengths.push_back(kMax);

  for (size_t n : lengths) {
    for (size_t misalign : {0, 1, 3, 5, 7}) {
      const unsigned char* p = buf.data() + misalign;
      INFO("length " << n << " misalignment " << misalign);
      uint32_t portable = crc32c::internal::ExtendPortable(0, p, n);
      REQUIRE(crc32c::Extend(0, p, n) == portable);
      // A non-zero starting CRC takes the same path through both.
      REQUIRE(crc32c::Extend(0xDEADBEEFu, p, n) ==
              crc32c::internal::ExtendPortable(0xDEADBEEFu, p, n));
    }
  }
}

TEST_CASE("Both CRC-32C paths agree with a bitwise reference",
          "[log][crc32c]") {
  const std::vector<unsigned char> buf = RandomBuffer(8192 * 3 + 300, 99);
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9},
                   size_t{255}, size_t{256 * 3}, size_t{256 * 3 + 13},
                   size_t{8192 * 3 - 1}, size_t{8192 * 3},
                   size_t{8192 * 3 + 299}}) {
    for (size_t misalign : {0, 1}) {
      INFO("length " << n << " misalignment " << misalign);
      const unsigned char* p = buf.data() + misalign;
      uint32_t want = ReferenceCrc(0, p, n);
      CHECK(crc32c::Extend(0, p, n) == want);
      CHECK(crc32c::internal::ExtendPortable(0, p, n) == want);
    }
  }
}

TEST_CASE("Extend composes: the CRC of a then b is the CRC of a + b",
          "[log][crc32c]") {
  const std::vector<unsigned char> buf = RandomBuffer(40000, 3);
  std::mt19937 rng(11);
  std::vector<std::pair<size_t, size_t>> cases = {
      {0, 0}, {0, 1}, {1, 0}, {3, 5}, {768, 768}, {8192 * 3, 1},
      {1, 8192 * 3}, {13, 8192 * 3 + 768 + 5}};
  for (int i = 0; i < 50; i++) {
    size_t total = rng() % buf.size();
    size_t split = total == 0 ? 0 : rng() % (total + 1);
    cases.emplace_back(split, total - split);
  }
  for (auto [a, b] : cases) {
    INFO("split " << a << " + " << b);
    const unsigned char* p = buf.data();
    uint32_t whole = crc32c::Value(p, a + b);
    CHECK(crc32c::Extend(crc32c::Extend(0, p, a), p + a, b) == whole);
    CHECK(crc32c::internal::ExtendPortable(
              crc32c::internal::ExtendPortable(0, p, a), p + a, b) == whole);
    // Mixing the two paths composes too.
    CHECK(crc32c::internal::ExtendPortable(crc32c::Extend(0, p, a), p + a,
                                           b) == whole);
  }
  // Byte by byte.
  uint32_t crc = 0;
  for (size_t i = 0; i < 1000; i++) crc = crc32c::Extend(crc, buf.data() + i, 1);
  CHECK(crc == crc32c::Value(buf.data(), 1000));
}

TEST_CASE("CRC-32C detects every single-bit flip in a buffer",
          "[log][crc32c]") {
  std::vector<unsigned char> buf = RandomBuffer(800, 5);
  const uint32_t original = crc32c::Value(buf.data(), buf.size());
  for (size_t i = 0; i < buf.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      buf[i] ^= static_cast<unsigned char>(1u << bit);
      uint32_t crc = crc32c::Value(buf.data(), buf.size());
      buf[i] ^= static_cast<unsigned char>(1u << bit);
      if (crc == original) FAIL("undetected flip at byte " << i << " bit " << bit);
    }
  }
  CHECK(crc32c::Value(buf.data(), buf.size()) == original);
}

}  // namespace
}  // namespace fjord::log
