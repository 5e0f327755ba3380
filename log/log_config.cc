#include "log/log_config.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "log/strings.h"

namespace fjord::log {

absl::Status LogConfig::Validate() const {
  if (segment_bytes < 14 || segment_bytes > (uint64_t{1} << 31) - 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment.bytes must be in [14, 2147483647], got %d", segment_bytes));
  }
  if (segment_ms == 0 || segment_ms < -1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment.ms must be positive or -1, got %d", segment_ms));
  }
  if (segment_index_bytes < 24) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "segment.index.bytes must be at least 24, got %d",
        segment_index_bytes));
  }
  if (flush_bytes == 0 || flush_bytes < -1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "flush.bytes must be positive or -1, got %d", flush_bytes));
  }
  if (flush_ms < -1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "flush.ms must be >= 0 or -1, got %d", flush_ms));
  }
  if (retention_ms < -1 || retention_bytes < -1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "retention.ms and retention.bytes must be >= 0 or -1, got %d and %d",
        retention_ms, retention_bytes));
  }
  if (!cleanup_delete && !cleanup_compact) {
    return absl::InvalidArgumentError(
        "cleanup.policy must include delete or compact");
  }
  if (delete_retention_ms < 0 || min_compaction_lag_ms < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "delete.retention.ms and min.compaction.lag.ms must be >= 0, got %d "
        "and %d", delete_retention_ms, min_compaction_lag_ms));
  }
  if (!(min_cleanable_dirty_ratio >= 0 && min_cleanable_dirty_ratio <= 1)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "min.cleanable.dirty.ratio must be in [0, 1], got %g",
        min_cleanable_dirty_ratio));
  }
  if (max_message_bytes < 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "max.message.bytes must be >= 0, got %d", max_message_bytes));
  }
  return absl::OkStatus();
}

absl::Status LogConfig::Set(std::string_view key_in, std::string_view value_in) {
  const absl::string_view key = ToAbsl(key_in), value = ToAbsl(value_in);
  auto as_i64 = [&](int64_t* out) -> absl::Status {
    if (!absl::SimpleAtoi(value, out)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value '", value, "' for ", key, ": not an integer"));
    }
    return absl::OkStatus();
  };
  int64_t v = 0;
  if (key == "cleanup.policy") {
    LogConfig next = *this;
    next.cleanup_delete = next.cleanup_compact = false;
    for (absl::string_view part : absl::StrSplit(value, ',')) {
      part = absl::StripAsciiWhitespace(part);
      if (part == "delete") {
        next.cleanup_delete = true;
      } else if (part == "compact") {
        next.cleanup_compact = true;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid value '", value,
            "' for cleanup.policy: use delete, compact or compact,delete"));
      }
    }
    if (absl::Status vs = next.Validate(); !vs.ok()) return vs;
    *this = next;
    return absl::OkStatus();
  }
  if (key == "min.cleanable.dirty.ratio") {
    double d;
    if (!absl::SimpleAtod(value, &d)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value '", value, "' for ", key, ": not a number"));
    }
    LogConfig next = *this;
    next.min_cleanable_dirty_ratio = d;
    if (absl::Status vs = next.Validate(); !vs.ok()) return vs;
    *this = next;
    return absl::OkStatus();
  }
  if (key == "preallocate" || key == "verify.crc.on.read") {
    bool b;
    if (!absl::SimpleAtob(value, &b)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value '", value, "' for ", key, ": not a boolean"));
    }
    (key == "preallocate" ? preallocate : verify_crc_on_read) = b;
    return Validate();
  }
  absl::Status s = as_i64(&v);
  if (!s.ok() &&
      (key == "segment.bytes" || key == "segment.ms" ||
       key == "segment.index.bytes" || key == "index.interval.bytes" ||
       key == "flush.bytes" || key == "flush.ms" ||
       key == "max.message.bytes" || key == "retention.ms" ||
       key == "retention.bytes" || key == "delete.retention.ms" ||
       key == "min.compaction.lag.ms" || key == "min.insync.replicas")) {
    return s;
  }
  LogConfig next = *this;
  if (key == "segment.bytes") {
    next.segment_bytes = static_cast<uint64_t>(std::max<int64_t>(v, 0));
  } else if (key == "segment.ms") {
    next.segment_ms = v;
  } else if (key == "segment.index.bytes") {
    next.segment_index_bytes = static_cast<uint64_t>(std::max<int64_t>(v, 0));
  } else if (key == "index.interval.bytes") {
    if (v < 0 || v > INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("index.interval.bytes out of range: ", v));
    }
    next.index_interval_bytes = static_cast<uint32_t>(v);
  } else if (key == "flush.bytes") {
    next.flush_bytes = v;
  } else if (key == "flush.ms") {
    next.flush_ms = v;
  } else if (key == "max.message.bytes") {
    next.max_message_bytes = v;
  } else if (key == "retention.ms") {
    next.retention_ms = v;
  } else if (key == "retention.bytes") {
    next.retention_bytes = v;
  } else if (key == "delete.retention.ms") {
    next.delete_retention_ms = v;
  } else if (key == "min.compaction.lag.ms") {
    next.min_compaction_lag_ms = v;
  } else if (key == "min.insync.replicas") {
    if (v < 1 || v > 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("min.insync.replicas must be in [1, 1000], got ", v));
    }
    next.min_insync_replicas = static_cast<int32_t>(v);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown log config '", key, "'"));
  }
  if (key == "segment.bytes" && v < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment.bytes must be positive, got ", v));
  }

  if (absl::Status vs = next.Validate(); !vs.ok()) return vs;
  *this = next;
  return absl::OkStatus();
}

}  // namespace fjord::log
