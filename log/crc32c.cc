#include "log/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace fjord::log::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82f63b78;  // reflected Castagnoli polynomial

struct Tables {
  // Slicing-by-8 tables for the portable path.
  uint32_t slice[8][256];
  // Operators that advance a CRC over kLong / kShort zero bytes, used to
  // combine the three interleaved hardware streams (Mark Adler's method).
  uint32_t long_shift[4][256];
  uint32_t short_shift[4][256];
};

constexpr size_t kLong = 8192;
constexpr size_t kShort = 256;

uint32_t Gf2MatrixTimes(const uint32_t* mat, uint32_t vec) {
  uint32_t sum = 0;
  while (vec) {
    if (vec & 1) sum ^= *mat;
    vec >>= 1;
    mat++;
  }
  return sum;
}

void Gf2MatrixSquare(uint32_t* square, const uint32_t* mat) {
  for (int n = 0; n < 32; n++) square[n] = Gf2MatrixTimes(mat, mat[n]);
}

// Builds in `even` the operator that applies `len` zero bytes to a CRC.
void ZerosOperator(uint32_t* even, size_t len) {
  uint32_t odd[32];
  odd[0] = kPoly;  // operator for one zero bit
  uint32_t row = 1;
  for (int n = 1; n < 32; n++) {
    odd[n] = row;
    row <<= 1;
  }
  Gf2MatrixSquare(even, odd);  // two zero bits
  Gf2MatrixSquare(odd, even);  // four zero bits
  // Each squaring doubles the count: the first below gives one zero byte.
  do {
    Gf2MatrixSquare(even, odd);
    len >>= 1;
    if (len == 0) return;
    Gf2MatrixSquare(odd, even);
    len >>= 1;
  } while (len);
  std::memcpy(even, odd, sizeof(odd));
}

void BuildShift(uint32_t zeros[4][256], size_t len) {
  uint32_t op[32];
  ZerosOperator(op, len);
  for (uint32_t n = 0; n < 256; n++) {
    zeros[0][n] = Gf2MatrixTimes(op, n);
    zeros[1][n] = Gf2MatrixTimes(op, n << 8);
    zeros[2][n] = Gf2MatrixTimes(op, n << 16);
    zeros[3][n] = Gf2MatrixTimes(op, n << 24);
  }
}

const Tables& GetTables() {
  static const Tables* tables = [] {
    auto* t = new Tables;
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t crc = n;
      for (int k = 0; k < 8; k++) crc = crc & 1 ? (crc >> 1) ^ kPoly : crc >> 1;
      t->slice[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t crc = t->slice[0][n];
      for (int k = 1; k < 8; k++) {
        crc = t->slice[0][crc & 0xff] ^ (crc >> 8);
        t->slice[k][n] = crc;
      }
    }
    BuildShift(t->long_shift, kLong);
    BuildShift(t->short_shift, kShort);
    return t;
  }();
  return *tables;
}

inline uint64_t Load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint32_t Shift(const uint32_t zeros[4][256], uint32_t crc) {
  return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^
         zeros[2][(crc >> 16) & 0xff] ^ zeros[3][crc >> 24];
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline void Interleave3(
    uint64_t* crc, const unsigned char** next_p, size_t* len, size_t block,
    const uint32_t zeros[4][256]) {
  uint64_t crc0 = *crc;
  const unsigned char* next = *next_p;
  while (*len >= block * 3) {
    uint64_t crc1 = 0, crc2 = 0;
    const unsigned char* end = next + block;
    do {
      crc0 = _mm_crc32_u64(crc0, Load64(next));
      crc1 = _mm_crc32_u64(crc1, Load64(next + block));
      crc2 = _mm_crc32_u64(crc2, Load64(next + 2 * block));
      next += 8;
    } while (next < end);
    crc0 = Shift(zeros, static_cast<uint32_t>(crc0)) ^ crc1;
    crc0 = Shift(zeros, static_cast<uint32_t>(crc0)) ^ crc2;
    next += 2 * block;
    *len -= 3 * block;
  }
  *crc = crc0;
  *next_p = next;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(
    uint32_t crc, const void* data, size_t len) {
  const Tables& t = GetTables();
  const auto* next = static_cast<const unsigned char*>(data);
  uint64_t crc0 = crc ^ 0xffffffffu;
  while (len && (reinterpret_cast<uintptr_t>(next) & 7) != 0) {
    crc0 = _mm_crc32_u8(static_cast<uint32_t>(crc0), *next++);
    len--;
  }
  // Three independent streams hide the crc32 instruction's latency; their
  // results are combined by shifting over the bytes that follow them.
  Interleave3(&crc0, &next, &len, kLong, t.long_shift);
  Interleave3(&crc0, &next, &len, kShort, t.short_shift);
  while (len >= 8) {
    crc0 = _mm_crc32_u64(crc0, Load64(next));
    next += 8;
    len -= 8;
  }
  while (len) {
    crc0 = _mm_crc32_u8(static_cast<uint32_t>(crc0), *next++);
    len--;
  }
  return static_cast<uint32_t>(crc0) ^ 0xffffffffu;
}

bool DetectHardware() { return __builtin_cpu_supports("sse4.2"); }
#else
bool DetectHardware() { return false; }
#endif

}  // namespace

namespace internal {
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n) {
  const Tables& t = GetTables();
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = crc ^ 0xffffffffu;
  while (n >= 8) {
    uint64_t v = Load64(p) ^ c;  // little-endian host assumed (x86, arm64)
    c = t.slice[7][v & 0xff] ^ t.slice[6][(v >> 8) & 0xff] ^
        t.slice[5][(v >> 16) & 0xff] ^ t.slice[4][(v >> 24) & 0xff] ^
        t.slice[3][(v >> 32) & 0xff] ^ t.slice[2][(v >> 40) & 0xff] ^
        t.slice[1][(v >> 48) & 0xff] ^ t.slice[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = t.slice[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}
}  // namespace internal

bool HardwareAccelerated() {
  static const bool hw = DetectHardware();
  return hw;
}

uint32_t Extend(uint32_t crc, const void* data, size_t n) {
#if defined(__x86_64__)
  if (HardwareAccelerated()) return ExtendHardware(crc, data, n);
#endif
  return internal::ExtendPortable(crc, data, n);
}

}  // namespace fjord::log::crc32c
