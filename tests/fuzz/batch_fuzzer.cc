// libFuzzer target: bytes as a record set (validated batch by batch), as one
// batch whose CRC is then corrected (so the record parser and decompressors
// see arbitrary bodies), and as compressed input to each codec. Nothing may
// crash, hang, over-read or allocate without bound.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "log/compression.h"
#include "log/internal/endian.h"
#include "log/record_batch.h"

using namespace fjord::log;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string scratch;
  std::vector<Record> records;
  std::span<const uint8_t> input(data, size);
  (void)ForEachBatch(input,
                     [&](const BatchHeader&, std::span<const uint8_t> b) {
                       records.clear();
                       return DecodeRecords(b, &scratch, &records);
                     });

  // The same bytes as one batch with a good CRC and an exact length.
  if (size >= batch_layout::kHeaderSize) {
    std::vector<uint8_t> batch(data, data + size);
    internal::StoreBE<int32_t>(
        batch.data() + batch_layout::kBatchLength,
        static_cast<int32_t>(size - batch_layout::kLogOverhead));
    batch[batch_layout::kMagic] = batch_layout::kMagicV2;
    internal::StoreBE<uint32_t>(batch.data() + batch_layout::kCrc,
                                ComputeBatchCrc(batch));
    if (ValidateBatch(batch).ok()) {
      records.clear();
      (void)DecodeRecords(batch, &scratch, &records);
    }
  }

  // The bytes after the first as compressed input to the codec it names.
  if (size >= 1) {
    auto codec = CodecFromId(data[0] % 5);
    if (codec.ok()) {
      std::string out;
      (void)Decompress(
          *codec,
          std::string_view(reinterpret_cast<const char*>(data + 1), size - 1),
          &out, 1 << 22);
    }
  }
  return 0;
}
