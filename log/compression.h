// Kafka record-batch compression codecs: the four Kafka defines (gzip, snappy,
// lz4, zstd) in both directions. Stateless free functions; thread-safe.
//
// Decompression never trusts a length in its input: malformed or truncated
// input is kDataLoss, output that would exceed `max_output` bytes is
// kResourceExhausted (a decompression bomb), and nothing is read outside
// `in` or written outside `*out`.
#ifndef FJORD_LOG_COMPRESSION_H_
#define FJORD_LOG_COMPRESSION_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fjord::log {

// The codec id stored in bits 0-2 of a RecordBatch's attributes.
enum class Codec : uint8_t {
  kNone = 0,
  kGzip = 1,
  kSnappy = 2,  // raw snappy (librdkafka) or xerial-framed (Java) on decode
  kLz4 = 3,     // LZ4 frame format
  kZstd = 4,
};

// "none", "gzip", "snappy", "lz4", "zstd".
std::string_view CodecName(Codec codec);
// Parses a codec name as above (also "uncompressed" for kNone);
// kInvalidArgument naming the value otherwise.
absl::StatusOr<Codec> ParseCodec(std::string_view name);
// Maps attribute bits 0-2 to a codec; kDataLoss for 5, 6, 7.
absl::StatusOr<Codec> CodecFromId(int id);

// Default cap for one batch's decompressed size.
inline constexpr size_t kDefaultMaxDecompressedBytes = size_t{1} << 30;

// Appends the decompressed bytes of `in` to `*out`. For kSnappy, accepts both
// raw snappy and the xerial framing (magic "\x82SNAPPY\0"). kNone copies.
absl::Status Decompress(Codec codec, std::string_view in, std::string* out,
                        size_t max_output = kDefaultMaxDecompressedBytes);

// Appends the compressed form of `in` to `*out`: gzip (RFC 1952 member),
// raw snappy, LZ4 frame, or a zstd frame. `level` 0 means the codec's
// default. kNone copies.
absl::Status Compress(Codec codec, std::string_view in, std::string* out,
                      int level = 0);

}  // namespace fjord::log

#endif  // FJORD_LOG_COMPRESSION_H_
