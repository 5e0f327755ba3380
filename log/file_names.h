// The one place that names and parses fjord's files and directories in a
// data directory (layout in log/FORMAT.md). Thread-safe free functions.
#ifndef FJORD_LOG_FILE_NAMES_H_
#define FJORD_LOG_FILE_NAMES_H_

#include <optional>
#include <string>
#include <string_view>

#include "log/types.h"

namespace fjord::log {

inline constexpr std::string_view kLogSuffix = ".log";
inline constexpr std::string_view kIndexSuffix = ".index";
inline constexpr std::string_view kTimeIndexSuffix = ".timeindex";
// Producer-state snapshot, named by the log end offset it reflects.
inline constexpr std::string_view kSnapshotSuffix = ".snapshot";
inline constexpr std::string_view kLockFileName = ".lock";
inline constexpr std::string_view kCleanShutdownFileName = ".clean-shutdown";
inline constexpr std::string_view kRecoveryPointFileName =
    "recovery-point-checkpoint";
inline constexpr std::string_view kCleanerOffsetFileName =
    "cleaner-offset-checkpoint";
// Suffixes appended to segment file names: a segment being deleted, the
// cleaner's output being written, and cleaner output committed but not yet
// in place (see FORMAT.md).
inline constexpr std::string_view kDeletedFileSuffix = ".deleted";
inline constexpr std::string_view kCleanedFileSuffix = ".cleaned";
inline constexpr std::string_view kSwapFileSuffix = ".swap";
// Suffix of a partition directory being deleted: "<topic>-<p>.<ms>.deleted".
inline constexpr std::string_view kDeletedDirSuffix = ".deleted";

// "<dir>/00000000000000000042.log" for base 42 and kLogSuffix.
std::string SegmentFileName(std::string_view dir, Offset base,
                            std::string_view suffix);

struct ParsedSegmentName {
  Offset base;
  std::string suffix;  // ".log", ".index", ...
};
// Parses "<20 digits><suffix>"; nullopt for anything else.
std::optional<ParsedSegmentName> ParseSegmentFileName(std::string_view name);

// "<topic>-<partition>".
std::string PartitionDirName(const TopicPartition& tp);
// Parses "<topic>-<partition>" where the topic is a legal Kafka topic name;
// nullopt otherwise (including "*.deleted" directories).
std::optional<TopicPartition> ParsePartitionDirName(std::string_view name);

// Kafka's topic name rule: 1-249 characters of [a-zA-Z0-9._-], not "." or
// "..".
bool IsValidTopicName(std::string_view topic);

}  // namespace fjord::log

#endif  // FJORD_LOG_FILE_NAMES_H_
