#include "tools/partition_offsets.h"

#include <algorithm>
#include <chrono>

#include "fjord/admin.h"
#include "fmt/format.h"

namespace fjord::tools {

absl::StatusOr<std::unique_ptr<PartitionOffsets>> PartitionOffsets::Create(
    const GlobalOptions& options, const std::string& topic,
    const std::vector<int32_t>& partitions) {
  std::unique_ptr<PartitionOffsets> p(new PartitionOffsets(options, topic));
  auto admin = Admin::Create(AdminProperties(options));
  if (!admin.ok()) return admin.status();
  auto d = (*admin)->DescribeTopic(topic);
  if (absl::IsNotFound(d.status())) {
    return absl::NotFoundError(fmt::format("topic '{}' not found", topic));
  }
  if (!d.ok()) return AdminCallError(options, d.status());
  p->partition_count_ = static_cast<int32_t>(d->partitions.size());
  if (partitions.empty()) {
    for (int32_t i = 0; i < p->partition_count_; i++) {
      p->partitions_.push_back(i);
    }
  } else {
    for (int32_t i : partitions) {
      if (i < 0 || i >= p->partition_count_) {
        return absl::NotFoundError(
            fmt::format("partition {} of topic '{}' does not exist (it has {})",
                        i, topic, p->partition_count_));
      }
      p->partitions_.push_back(i);
    }
    std::sort(p->partitions_.begin(), p->partitions_.end());
    p->partitions_.erase(
        std::unique(p->partitions_.begin(), p->partitions_.end()),
        p->partitions_.end());
  }
  Properties props = ClientProperties(options);
  props["auto.offset.reset"] = "none";
  auto consumer = Consumer::Create(props);
  if (!consumer.ok()) return consumer.status();
  p->consumer_ = *std::move(consumer);
  for (int32_t i : p->partitions_) p->assigned_.push_back({topic, i});
  if (absl::Status s = p->consumer_->Assign(p->assigned_); !s.ok()) return s;
  // Only ListOffsets: never fetch.
  p->consumer_->Pause(p->assigned_);
  return p;
}

absl::StatusOr<std::vector<int64_t>> PartitionOffsets::Positions() {
  std::vector<int64_t> out;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(options_.timeout_ms);
  for (const auto& tp : assigned_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto pos =
        consumer_->Position(tp, std::max(left, std::chrono::milliseconds(1)));
    if (absl::IsDeadlineExceeded(pos.status())) {
      return absl::UnavailableError(
          fmt::format("no answer from the brokers at {} (--brokers): {}",
                      options_.brokers, pos.status().message()));
    }
    if (!pos.ok()) return pos.status();
    out.push_back(*pos);
  }
  return out;
}

absl::StatusOr<std::vector<PartitionRange>> PartitionOffsets::Ranges() {
  if (absl::Status s = consumer_->SeekToBeginning(assigned_); !s.ok()) return s;
  auto starts = Positions();
  if (!starts.ok()) return starts.status();
  if (absl::Status s = consumer_->SeekToEnd(assigned_); !s.ok()) return s;
  auto ends = Positions();
  if (!ends.ok()) return ends.status();
  std::vector<PartitionRange> out;
  for (size_t i = 0; i < assigned_.size(); i++) {
    out.push_back({partitions_[i], (*starts)[i], (*ends)[i]});
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> PartitionOffsets::OffsetsForTime(
    int64_t timestamp_ms) {
  for (const auto& tp : assigned_) {
    absl::Status s =
        consumer_->SeekToTimestamp(tp, std::max<int64_t>(timestamp_ms, 0));
    if (!s.ok()) return s;
  }
  return Positions();
}

std::string RangeText(const PartitionRange& r) {
  return fmt::format("log start {}, log end {}", r.start, r.end);
}

}  // namespace fjord::tools
