// CRC-32C (Castagnoli), the checksum of Kafka RecordBatch v2 and of fjord's
// own files. Uses SSE4.2 crc32 instructions (three interleaved streams) when
// the CPU has them, a slicing-by-8 table otherwise. Thread-safe.
#ifndef FJORD_LOG_CRC32C_H_
#define FJORD_LOG_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fjord::log::crc32c {

// Returns the CRC-32C of `data[0, n)` continued from `crc`, the CRC of the
// bytes before them (0 for none): Extend(Extend(0, a), b) == Value(a + b).
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Value(s.data(), s.size()); }

// True when Extend uses the SSE4.2 path on this machine.
bool HardwareAccelerated();

namespace internal {
// The portable table implementation, exposed so tests can compare the two.
uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n);
}  // namespace internal

}  // namespace fjord::log::crc32c

#endif  // FJORD_LOG_CRC32C_H_
