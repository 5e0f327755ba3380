// Zigzag varints as Kafka's record format uses them (protobuf's sint32 /
// sint64 encoding). Decoding is bounds-checked: it never reads past `end`.
// Header-only; thread-compatible.
#ifndef FJORD_LOG_INTERNAL_VARINT_H_
#define FJORD_LOG_INTERNAL_VARINT_H_

#include <cstdint>
#include <optional>
#include <string>

namespace fjord::log::internal {

inline constexpr int kMaxVarint32Bytes = 5;
inline constexpr int kMaxVarint64Bytes = 10;

// Reads an unsigned LEB128 of at most `max_bytes` bytes from [*p, end).
// Advances *p and returns the value; nullopt when truncated or overlong.
inline std::optional<uint64_t> ReadUnsignedVarint(const uint8_t** p,
                                                  const uint8_t* end,
                                                  int max_bytes) {
  uint64_t result = 0;
  const uint8_t* q = *p;
  for (int i = 0; i < max_bytes; i++) {
    if (q >= end) return std::nullopt;
    uint8_t b = *q++;
    result |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) {
      *p = q;
      return result;
    }
  }
  return std::nullopt;
}

inline std::optional<int32_t> ReadVarint32(const uint8_t** p,
                                           const uint8_t* end) {
  const uint8_t* q = *p;
  auto u = ReadUnsignedVarint(&q, end, kMaxVarint32Bytes);
  if (!u || *u > 0xffffffffu) return std::nullopt;  // *p left unchanged
  *p = q;
  uint32_t v = static_cast<uint32_t>(*u);
  return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
}

inline std::optional<int64_t> ReadVarint64(const uint8_t** p,
                                           const uint8_t* end) {
  auto u = ReadUnsignedVarint(p, end, kMaxVarint64Bytes);
  if (!u) return std::nullopt;
  return static_cast<int64_t>((*u >> 1) ^ (~(*u & 1) + 1));
}

inline void AppendUnsignedVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline void AppendVarint32(std::string* out, int32_t v) {
  uint32_t u = (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
  AppendUnsignedVarint(out, u);
}

inline void AppendVarint64(std::string* out, int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  AppendUnsignedVarint(out, u);
}

// Writes an unsigned LEB128 at `p` (room for up to 10 bytes) and returns the
// byte after it.
inline char* WriteUnsignedVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline char* WriteVarint32(char* p, int32_t v) {
  uint32_t u = (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
  return WriteUnsignedVarint(p, u);
}

inline char* WriteVarint64(char* p, int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  return WriteUnsignedVarint(p, u);
}

inline int UnsignedVarintSize(uint64_t u) {
  int n = 1;
  while (u >= 0x80) {
    u >>= 7;
    n++;
  }
  return n;
}

inline int VarintSize32(int32_t v) {
  return UnsignedVarintSize((static_cast<uint32_t>(v) << 1) ^
                            static_cast<uint32_t>(v >> 31));
}

inline int VarintSize64(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  int n = 1;
  while (u >= 0x80) {
    u >>= 7;
    n++;
  }
  return n;
}

}  // namespace fjord::log::internal

#endif  // FJORD_LOG_INTERNAL_VARINT_H_
