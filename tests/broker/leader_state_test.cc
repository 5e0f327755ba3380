// The leader's bookkeeping of its followers (broker/leader_state.h): the
// high watermark over the isr and the isr changes it proposes. Pure.
#include "broker/leader_state.h"

#include <catch2/catch.hpp>

namespace fjord::broker {
namespace {

using Isr = std::vector<int32_t>;
constexpr int64_t kLag = 1000;

LeaderState Leader(Isr isr, int64_t hw = 0, int64_t epoch_start = 0) {
  return LeaderState(1, LeaderEpoch(3), Offset(epoch_start), {1, 2, 3},
                     std::move(isr), Offset(hw), /*now_ms=*/0);
}

TEST_CASE(
    "LeaderState: the high watermark is the smallest log end of the isr and "
    "never moves back",
    "[replication][hw]") {
  LeaderState s = Leader({1, 2, 3});
  // Nobody has fetched yet at this epoch: it stays.
  CHECK_FALSE(s.UpdateHighWatermark(Offset(100)));
  s.RecordFetch(2, Offset(60), Offset(100), 10);
  CHECK_FALSE(s.UpdateHighWatermark(Offset(100)));  // 3 unknown
  s.RecordFetch(3, Offset(40), Offset(100), 10);
  CHECK(s.UpdateHighWatermark(Offset(100)) == Offset(40));
  s.RecordFetch(3, Offset(100), Offset(100), 20);
  CHECK(s.UpdateHighWatermark(Offset(100)) == Offset(60));
  // A follower reporting less (it truncated) cannot take it back.
  s.RecordFetch(2, Offset(30), Offset(100), 30);
  CHECK_FALSE(s.UpdateHighWatermark(Offset(100)));
  CHECK(s.high_watermark() == Offset(60));
}

TEST_CASE("LeaderState: an isr of the leader alone commits its log end",
          "[replication][hw]") {
  LeaderState s = Leader({1});
  CHECK(s.UpdateHighWatermark(Offset(7)) == Offset(7));
  // A follower outside the isr does not hold it back.
  s.RecordFetch(2, Offset(0), Offset(9), 5);
  CHECK(s.UpdateHighWatermark(Offset(9)) == Offset(9));
}

TEST_CASE(
    "LeaderState: a follower not caught up for replica.lag.time.max.ms "
    "leaves the isr; one fetching the log end stays",
    "[replication][isr]") {
  LeaderState s = Leader({1, 2, 3});
  for (int64_t t = 0; t <= 3000; t += 100) {
    s.RecordFetch(2, Offset(t), Offset(t), t);  // always at the end
  }
  // 3 never fetched since the leader took over at 0.
  CHECK(s.IsrChange(900, kLag) == std::nullopt);
  CHECK(s.IsrChange(3000, kLag) == Isr{1, 2});
}

TEST_CASE(
    "LeaderState: a follower that keeps up with a moving log end counts as "
    "caught up as of its previous fetch",
    "[replication][isr]") {
  LeaderState s = Leader({1, 2});
  // Each fetch asks for what was the log end at the previous one.
  int64_t end = 0;
  for (int64_t t = 0; t <= 5000; t += 200) {
    s.RecordFetch(2, Offset(end), Offset(end + 50), t);
    end += 50;
  }
  CHECK(s.IsrChange(5000, kLag) == std::nullopt);
  // It falls behind: fetches stop reaching the previous log end.
  for (int64_t t = 5200; t <= 7000; t += 200) {
    s.RecordFetch(2, Offset(end), Offset(end + 5000), t);
    end += 10;
  }
  CHECK(s.IsrChange(7000, kLag) == Isr{1});
}

TEST_CASE(
    "LeaderState: a follower joins the isr once it reaches the high "
    "watermark and the start of the leader's epoch",
    "[replication][isr]") {
  LeaderState s = Leader({1}, /*hw=*/0, /*epoch_start=*/50);
  CHECK(s.UpdateHighWatermark(Offset(80)) == Offset(80));
  s.RecordFetch(2, Offset(40), Offset(80), 10);
  CHECK(s.IsrChange(10, kLag) == std::nullopt);
  s.RecordFetch(2, Offset(79), Offset(80), 20);
  CHECK(s.IsrChange(20, kLag) == std::nullopt);  // below the watermark
  s.RecordFetch(2, Offset(80), Offset(80), 30);
  CHECK(s.IsrChange(30, kLag) == Isr{1, 2});
}

TEST_CASE(
    "LeaderState: while an isr change is written the high watermark counts "
    "the larger set, and nothing else is proposed",
    "[replication][isr][hw]") {
  LeaderState s = Leader({1, 2});
  s.RecordFetch(2, Offset(10), Offset(10), 0);
  CHECK(s.UpdateHighWatermark(Offset(10)) == Offset(10));
  // 3 catches up and is proposed; it lags again before the write lands.
  s.RecordFetch(3, Offset(10), Offset(10), 5);
  auto grow = s.IsrChange(5, kLag);
  REQUIRE(grow == Isr{1, 2, 3});
  s.SetPending(*grow);
  CHECK(s.maximal_isr() == Isr{1, 2, 3});
  CHECK(s.IsrChange(5000, kLag) == std::nullopt);  // one at a time
  s.RecordFetch(2, Offset(30), Offset(30), 6);
  // 3 is at 10: the pending member holds the watermark.
  CHECK_FALSE(s.UpdateHighWatermark(Offset(30)));
  // A shrink being written still counts the members it removes.
  s.SetCommittedIsr({1, 2, 3}, 7);
  CHECK_FALSE(s.pending_isr().has_value());
  s.SetPending({1, 2});
  CHECK_FALSE(s.UpdateHighWatermark(Offset(30)));
  s.SetCommittedIsr({1, 2}, 8);  // written: 3 no longer counts
  CHECK(s.UpdateHighWatermark(Offset(30)) == Offset(30));
}

TEST_CASE(
    "LeaderState: a follower the controller removed (its broker died) is not "
    "proposed back until it fetches again",
    "[replication][isr]") {
  LeaderState s = Leader({1, 2, 3});
  s.RecordFetch(2, Offset(10), Offset(10), 0);
  s.RecordFetch(3, Offset(10), Offset(10), 0);
  CHECK(s.UpdateHighWatermark(Offset(10)) == Offset(10));
  // Broker 3 dies; the controller writes isr [1, 2].
  s.SetCommittedIsr({1, 2}, 100);
  // Its last fetch reached the high watermark, but that was before.
  CHECK(s.IsrChange(200, kLag) == std::nullopt);
  // It returns and fetches the log end: it may join again.
  s.RecordFetch(3, Offset(10), Offset(10), 300);
  CHECK(s.IsrChange(300, kLag) == Isr{1, 2, 3});
}

TEST_CASE("LeaderState: the leader never proposes an isr without itself",
          "[replication][isr]") {
  LeaderState s = Leader({1, 2, 3});
  CHECK(s.IsrChange(100'000, kLag) == Isr{1});
}

}  // namespace
}  // namespace fjord::broker
