// LeaderState: what the leader of one partition knows about its followers
// and the decisions it takes from that, in the manner of Kafka's Partition:
// each follower's log end offset (the offset its latest fetch asked for:
// it has everything before it) and when it was last caught up; the high
// watermark, the smallest log end offset over the in-sync replicas, below
// which records are committed (readable by consumers, acknowledged to
// acks=all); and the isr changes to propose: a follower not caught up for
// replica.lag.time.max.ms leaves, a follower that has reached the high
// watermark (and the start of the leader's epoch) joins.
//
// The isr that counts for elections is the one in etcd (the committed
// isr). While a change is being written, the high watermark is computed
// over the larger of the committed and the proposed isr (Kafka's maximal
// isr), so that whichever wins, every replica that may become leader holds
// every committed record.
//
// Pure: time is passed in; no I/O. Thread-compatible (the ReplicaManager
// guards each partition's state with its own mutex).
#ifndef FJORD_BROKER_LEADER_STATE_H_
#define FJORD_BROKER_LEADER_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "log/types.h"

namespace fjord::broker {

struct FollowerProgress {
  // nullopt until the follower's first fetch in this leader epoch.
  std::optional<Offset> log_end;
  int64_t last_caught_up_ms = 0;
  int64_t last_fetch_ms = 0;
  // The leader's log end at the follower's previous fetch.
  Offset leader_end_at_last_fetch{0};
};

class LeaderState {
 public:
  // Leading since `now_ms` at `epoch`, which starts at `epoch_start` in
  // the log; `replicas` and the committed `isr` from the partition's
  // record (both include `self`); `high_watermark` what this replica knew
  // before. Followers in the isr count as caught up now (they were in
  // sync when the isr was written), the others as never.
  LeaderState(int32_t self, LeaderEpoch epoch, Offset epoch_start,
              std::vector<int32_t> replicas, std::vector<int32_t> isr,
              Offset high_watermark, int64_t now_ms);

  int32_t self() const { return self_; }
  LeaderEpoch epoch() const { return epoch_; }
  Offset epoch_start() const { return epoch_start_; }
  Offset high_watermark() const { return high_watermark_; }
  const std::vector<int32_t>& replicas() const { return replicas_; }
  const std::vector<int32_t>& isr() const { return isr_; }
  // The union of the committed and the proposed isr.
  std::vector<int32_t> maximal_isr() const;
  const std::optional<std::vector<int32_t>>& pending_isr() const {
    return pending_;
  }
  bool is_replica(int32_t id) const;
  const FollowerProgress* progress(int32_t id) const;

  // A fetch by follower `id` for `fetch_offset` at `now_ms`, when the
  // leader's log ends at `leader_end`. REQUIRES: is_replica(id), id !=
  // self, fetch_offset <= leader_end. A follower is caught up when it
  // asks for the log end, or for at least what was the log end at its
  // previous fetch (then as of that fetch), as Kafka counts it.
  void RecordFetch(int32_t id, Offset fetch_offset, Offset leader_end,
                   int64_t now_ms);

  // Moves the high watermark to the smallest log end of the maximal isr
  // (the leader's own is `leader_end`), never backwards; a follower of it
  // that has not fetched yet in this epoch holds it where it is. Returns
  // the new value if it moved.
  std::optional<Offset> UpdateHighWatermark(Offset leader_end);

  // The isr to propose now, if it should change and nothing is pending:
  // without the followers in it not caught up for longer than
  // `max_lag_ms` (never without the leader), or else with the followers
  // that have reached the high watermark and the epoch start.
  std::optional<std::vector<int32_t>> IsrChange(int64_t now_ms,
                                                int64_t max_lag_ms) const;
  // A proposal is being written / was settled (written or refused).
  void SetPending(std::vector<int32_t> isr) { pending_ = std::move(isr); }
  void ClearPending() { pending_.reset(); }
  // The committed isr from etcd; a pending proposal it settles is cleared.
  // A follower that joins counts as caught up now; one that leaves must
  // fetch again before it can be proposed back.
  void SetCommittedIsr(std::vector<int32_t> isr, int64_t now_ms);

 private:
  const int32_t self_;
  const LeaderEpoch epoch_;
  const Offset epoch_start_;
  std::vector<int32_t> replicas_;
  std::vector<int32_t> isr_;
  std::optional<std::vector<int32_t>> pending_;
  Offset high_watermark_;
  std::map<int32_t, FollowerProgress> followers_;
};

// Sorted, without duplicates: how isrs are compared and written.
std::vector<int32_t> NormalizeIsr(std::vector<int32_t> isr);

}  // namespace fjord::broker

#endif  // FJORD_BROKER_LEADER_STATE_H_
