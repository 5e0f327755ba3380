#include "log/file_names.h"

#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "log/strings.h"

namespace fjord::log {

std::string SegmentFileName(std::string_view dir, Offset base,
                            std::string_view suffix) {
  return absl::StrFormat("%s/%020d%s", dir, base.value(), suffix);
}

std::optional<ParsedSegmentName> ParseSegmentFileName(std::string_view name) {
  if (name.size() <= 20) return std::nullopt;
  int64_t base = 0;
  for (int i = 0; i < 20; i++) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
  }
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + 20, base);
  if (ec != std::errc() || ptr != name.data() + 20) return std::nullopt;
  return ParsedSegmentName{Offset(base), std::string(name.substr(20))};
}

std::string PartitionDirName(const TopicPartition& tp) {
  return absl::StrFormat("%s-%d", tp.topic, tp.partition);
}

bool IsValidTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > 249 || topic == "." || topic == "..") {
    return false;
  }
  for (char c : topic) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<TopicPartition> ParsePartitionDirName(std::string_view name) {
  if (absl::EndsWith(ToAbsl(name), ToAbsl(kDeletedDirSuffix))) return std::nullopt;
  size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) {
    return std::nullopt;
  }
  std::string_view num = name.substr(dash + 1);
  // One spelling per partition: "t-01" would alias "t-1".
  if (num.size() > 1 && num[0] == '0') return std::nullopt;
  int32_t partition = 0;
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(),
                                   partition);
  if (ec != std::errc() || ptr != num.data() + num.size() || partition < 0) {
    return std::nullopt;
  }
  std::string_view topic = name.substr(0, dash);
  if (!IsValidTopicName(topic)) return std::nullopt;
  return TopicPartition{std::string(topic), partition};
}

}  // namespace fjord::log
