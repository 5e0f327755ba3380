// Big-endian loads and stores (Kafka's and fjord's on-disk byte order) from
// unaligned memory. Header-only; thread-compatible.
#ifndef FJORD_LOG_INTERNAL_ENDIAN_H_
#define FJORD_LOG_INTERNAL_ENDIAN_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace fjord::log::internal {

template <typename T>
inline T LoadBE(const void* p) {
  static_assert(std::is_integral_v<T>);
  std::make_unsigned_t<T> v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::little &&
                sizeof(T) > 1) {
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
  }
  return static_cast<T>(v);
}

template <typename T>
inline void StoreBE(void* p, T value) {
  static_assert(std::is_integral_v<T>);
  auto v = static_cast<std::make_unsigned_t<T>>(value);
  if constexpr (std::endian::native == std::endian::little &&
                sizeof(T) > 1) {
    if constexpr (sizeof(T) == 2) v = __builtin_bswap16(v);
    if constexpr (sizeof(T) == 4) v = __builtin_bswap32(v);
    if constexpr (sizeof(T) == 8) v = __builtin_bswap64(v);
  }
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace fjord::log::internal

#endif  // FJORD_LOG_INTERNAL_ENDIAN_H_
