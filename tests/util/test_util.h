// Shared builders for tests: temporary directories and record batches.
// Not thread-safe unless stated.
#ifndef FJORD_TESTS_UTIL_TEST_UTIL_H_
#define FJORD_TESTS_UTIL_TEST_UTIL_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "log/compression.h"
#include "log/log.h"
#include "log/record_batch.h"

namespace fjord::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(std::string_view name) const;

 private:
  std::string path_;
};

// A batch of `n` records with values "<prefix>-<i>" padded to `value_size`
// bytes, keys "key-<i>", timestamps `ts0 + i`.
std::string MakeBatch(int n, std::string_view prefix = "v",
                      size_t value_size = 0, int64_t ts0 = 1000,
                      log::Codec codec = log::Codec::kNone);

// A batch of `n` records ("<prefix>-<i>") from idempotent producer `pid`
// with `epoch`, its first record at sequence `sequence`.
std::string MakeProducerBatch(int n, int64_t pid, int16_t epoch,
                              int32_t sequence, std::string_view prefix = "v");

// The values of every record in a record set (concatenated batches), in
// order, with their offsets. Fails the test on a decoding error.
struct DecodedRecord {
  int64_t offset;
  int64_t timestamp;
  std::string key;
  std::string value;
};
std::vector<DecodedRecord> DecodeAll(std::span<const uint8_t> records);

inline std::span<uint8_t> Bytes(std::string& s) {
  return std::span(reinterpret_cast<uint8_t*>(s.data()), s.size());
}
inline std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Appends `batch` to `log`, failing the test (with the status) if it fails.
log::AppendInfo MustAppend(log::Log& log, std::string batch);

// Every record from `from` (default: the log start) to the log end, read
// through Log::Read and following next_offset; fails the test on an error or
// an empty read before the end.
std::vector<DecodedRecord> ReadAll(const log::Log& log,
                                   std::optional<Offset> from = std::nullopt);

// Reads / overwrites raw bytes of a file (for corruption tests).
std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, uint64_t offset,
                    std::string_view bytes);
uint64_t FileSize(const std::string& path);
// Copies a directory tree, keeping each file's modification time (fjord
// keeps a segment's last append time there).
void CopyTree(const std::string& from, const std::string& to);

}  // namespace fjord::testing

#endif  // FJORD_TESTS_UTIL_TEST_UTIL_H_
