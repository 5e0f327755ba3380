// LogConfig: the per-partition settings of the storage engine, named after
// the Kafka topic configs they implement. A value type; thread-compatible.
#ifndef FJORD_LOG_LOG_CONFIG_H_
#define FJORD_LOG_LOG_CONFIG_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "log/segment.h"

namespace fjord::log {

struct LogConfig {
  // segment.bytes: roll when the active segment would exceed this.
  uint64_t segment_bytes = uint64_t{1} << 30;
  // segment.ms: roll when the active segment is this old (-1: never).
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;
  // segment.index.bytes: preallocated size of each index; roll when full.
  uint64_t segment_index_bytes = 10 << 20;
  // index.interval.bytes: bytes of batches between offset index entries.
  uint32_t index_interval_bytes = 4096;
  // flush.bytes: fsync once this many appended bytes are unflushed
  // (-1: never by size).
  int64_t flush_bytes = -1;
  // flush.ms: fsync once the oldest unflushed append is this old (-1:
  // never by time). Checked on append and by the manager's flusher.
  int64_t flush_ms = 1000;
  // preallocate: reserve the active segment's disk space ahead of its data
  // (in 16 MiB steps, up to segment.bytes; see log/FORMAT.md).
  bool preallocate = true;
  // max.message.bytes: the largest batch accepted.
  int64_t max_message_bytes = 1048588;
  // Check each batch's CRC before serving it from Read.
  bool verify_crc_on_read = true;
  // retention.ms: delete sealed segments whose last append is older (-1:
  // keep forever).
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;
  // retention.bytes: delete the oldest sealed segments while the log is
  // larger (-1: no limit).
  int64_t retention_bytes = -1;
  // cleanup.policy: "delete", "compact", or "compact,delete".
  bool cleanup_delete = true;
  bool cleanup_compact = false;
  // delete.retention.ms: how long a tombstone outlives the first cleaning
  // that saw it.
  int64_t delete_retention_ms = 24LL * 3600 * 1000;
  // min.compaction.lag.ms: records younger than this are never compacted.
  int64_t min_compaction_lag_ms = 0;
  // min.cleanable.dirty.ratio: clean when dirty / total bytes reaches it.
  double min_cleanable_dirty_ratio = 0.5;
  // min.insync.replicas: in a cluster, the fewest in-sync replicas with
  // which the leader accepts acks=all writes. Not used by the log itself
  // (Kafka keeps it among the log configs too); -1: the broker's
  // min.insync.replicas.
  int32_t min_insync_replicas = -1;

  // kInvalidArgument naming the first out-of-range setting.
  absl::Status Validate() const;
  // Sets one setting by its Kafka-style name ("segment.bytes", ...).
  // kInvalidArgument for an unknown name or an unparsable value.
  absl::Status Set(std::string_view key, std::string_view value);

  SegmentConfig segment_config() const {
    return SegmentConfig{segment_bytes,
                         static_cast<size_t>(segment_index_bytes),
                         index_interval_bytes, preallocate};
  }
};

}  // namespace fjord::log

#endif  // FJORD_LOG_LOG_CONFIG_H_
