#include "broker/leader_state.h"

#include <algorithm>

namespace fjord::broker {

namespace {
bool Contains(const std::vector<int32_t>& v, int32_t id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}
}  // namespace

std::vector<int32_t> NormalizeIsr(std::vector<int32_t> isr) {
  std::sort(isr.begin(), isr.end());
  isr.erase(std::unique(isr.begin(), isr.end()), isr.end());
  return isr;
}

LeaderState::LeaderState(int32_t self, LeaderEpoch epoch, Offset epoch_start,
                         std::vector<int32_t> replicas,
                         std::vector<int32_t> isr, Offset high_watermark,
                         int64_t now_ms)
    : self_(self),
      epoch_(epoch),
      epoch_start_(epoch_start),
      replicas_(std::move(replicas)),
      isr_(NormalizeIsr(std::move(isr))),
      high_watermark_(high_watermark) {
  for (int32_t id : replicas_) {
    if (id == self_) continue;
    FollowerProgress& p = followers_[id];
    p.last_caught_up_ms = Contains(isr_, id) ? now_ms : 0;
  }
}

bool LeaderState::is_replica(int32_t id) const {
  return Contains(replicas_, id);
}

const FollowerProgress* LeaderState::progress(int32_t id) const {
  auto it = followers_.find(id);
  return it == followers_.end() ? nullptr : &it->second;
}

std::vector<int32_t> LeaderState::maximal_isr() const {
  std::vector<int32_t> out = isr_;
  if (pending_) out.insert(out.end(), pending_->begin(), pending_->end());
  return NormalizeIsr(std::move(out));
}

void LeaderState::RecordFetch(int32_t id, Offset fetch_offset,
                              Offset leader_end, int64_t now_ms) {
  auto it = followers_.find(id);
  if (it == followers_.end()) return;
  FollowerProgress& p = it->second;
  if (fetch_offset >= leader_end) {
    p.last_caught_up_ms = std::max(p.last_caught_up_ms, now_ms);
  } else if (p.log_end.has_value() &&
             fetch_offset >= p.leader_end_at_last_fetch) {
    p.last_caught_up_ms = std::max(p.last_caught_up_ms, p.last_fetch_ms);
  }
  p.log_end = fetch_offset;
  p.last_fetch_ms = now_ms;
  p.leader_end_at_last_fetch = leader_end;
}

std::optional<Offset> LeaderState::UpdateHighWatermark(Offset leader_end) {
  Offset hw = leader_end;
  for (int32_t id : maximal_isr()) {
    if (id == self_) continue;
    auto it = followers_.find(id);
    if (it == followers_.end() || !it->second.log_end) return std::nullopt;
    hw = std::min(hw, *it->second.log_end);
  }
  if (hw <= high_watermark_) return std::nullopt;
  high_watermark_ = hw;
  return hw;
}

std::optional<std::vector<int32_t>> LeaderState::IsrChange(
    int64_t now_ms, int64_t max_lag_ms) const {
  if (pending_) return std::nullopt;
  std::vector<int32_t> shrunk;
  for (int32_t id : isr_) {
    if (id == self_) {
      shrunk.push_back(id);
      continue;
    }
    auto it = followers_.find(id);
    const bool lagging = it == followers_.end() ||
                         now_ms - it->second.last_caught_up_ms > max_lag_ms;
    if (!lagging) shrunk.push_back(id);
  }
  if (!Contains(shrunk, self_)) shrunk.push_back(self_);
  shrunk = NormalizeIsr(std::move(shrunk));
  if (shrunk != isr_) return shrunk;
  std::vector<int32_t> grown = isr_;
  for (const auto& [id, p] : followers_) {
    if (Contains(isr_, id) || !p.log_end) continue;
    if (*p.log_end >= high_watermark_ && *p.log_end >= epoch_start_) {
      grown.push_back(id);
    }
  }
  grown = NormalizeIsr(std::move(grown));
  if (grown != isr_) return grown;
  return std::nullopt;
}

void LeaderState::SetCommittedIsr(std::vector<int32_t> isr, int64_t now_ms) {
  isr = NormalizeIsr(std::move(isr));
  // A follower that left (the controller saw its broker die, or this
  // leader found it lagging) rejoins only on a fetch made after that:
  // what it had fetched before says nothing about a broker that is gone.
  for (int32_t id : isr_) {
    if (id == self_ || Contains(isr, id)) continue;
    auto it = followers_.find(id);
    if (it != followers_.end()) it->second.log_end.reset();
  }
  for (int32_t id : isr) {
    if (id != self_ && !Contains(isr_, id)) {
      auto it = followers_.find(id);
      if (it != followers_.end()) {
        it->second.last_caught_up_ms =
            std::max(it->second.last_caught_up_ms, now_ms);
      }
    }
  }
  isr_ = std::move(isr);
  if (pending_ && *pending_ == isr_) pending_.reset();
}

}  // namespace fjord::broker
