// The recovery-point checkpoint: one small text file per data directory
// listing each partition's RecoveryPoint, guarded by a CRC-32C line and
// replaced atomically (layout in log/FORMAT.md). Thread-safe free functions.
#ifndef FJORD_LOG_CHECKPOINT_H_
#define FJORD_LOG_CHECKPOINT_H_

#include <string>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "log/file_system.h"
#include "log/log.h"
#include "log/types.h"

namespace fjord::log {

using RecoveryPoints = absl::btree_map<TopicPartition, RecoveryPoint>;

std::string EncodeRecoveryPoints(const RecoveryPoints& points);
// kDataLoss for a file that does not parse or whose CRC does not match.
absl::StatusOr<RecoveryPoints> DecodeRecoveryPoints(std::string_view text);

absl::Status WriteRecoveryPoints(FileSystem* fs, const std::string& path,
                                 const RecoveryPoints& points);
// kNotFound when the file does not exist.
absl::StatusOr<RecoveryPoints> ReadRecoveryPoints(FileSystem* fs,
                                                  const std::string& path);

// One offset per partition, in the same framing with header
// "fjord <name> 1": the cleaner's first dirty offsets
// ("cleaner-offset-checkpoint").
using PartitionOffsets = absl::btree_map<TopicPartition, Offset>;
std::string EncodeOffsets(std::string_view name, const PartitionOffsets& offsets);
absl::StatusOr<PartitionOffsets> DecodeOffsets(std::string_view name,
                                               std::string_view text);

}  // namespace fjord::log

#endif  // FJORD_LOG_CHECKPOINT_H_
