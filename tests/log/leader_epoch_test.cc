// The leader-epoch history (LeaderEpochCache) and the replication side of a
// Log: epoch stamping by a leader, appends as a follower, truncation.
#include <catch2/catch.hpp>

#include "log/file_names.h"
#include "log/leader_epoch_cache.h"
#include "log/log.h"
#include "log/record_batch.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

using testing::Bytes;
using testing::MakeBatch;
using testing::MakeProducerBatch;
using testing::MustAppend;
using testing::ReadAll;
using testing::TempDir;

LeaderEpochCache Cache(std::vector<std::pair<int32_t, int64_t>> entries) {
  std::vector<EpochEntry> out;
  for (auto [e, o] : entries) out.push_back({LeaderEpoch(e), Offset(o)});
  return LeaderEpochCache(std::move(out));
}

EpochEndOffset End(int32_t e, int64_t o) { return {LeaderEpoch(e), Offset(o)}; }

TEST_CASE("LeaderEpochCache: end offsets follow Kafka's endOffsetFor",
          "[log][epochs]") {
  const LeaderEpochCache c = Cache({{0, 0}, {2, 100}, {5, 250}});
  const Offset end(400);
  CHECK(c.EndOffsetFor(LeaderEpoch(5), end) == End(5, 400));
  CHECK(c.EndOffsetFor(LeaderEpoch(2), end) == End(2, 250));
  CHECK(c.EndOffsetFor(LeaderEpoch(3), end) == End(2, 250));
  CHECK(c.EndOffsetFor(LeaderEpoch(4), end) == End(2, 250));
  CHECK(c.EndOffsetFor(LeaderEpoch(0), end) == End(0, 100));
  CHECK(c.EndOffsetFor(LeaderEpoch(1), end) == End(0, 100));
  CHECK_FALSE(c.EndOffsetFor(LeaderEpoch(6), end).known());
  CHECK_FALSE(c.EndOffsetFor(kNoLeaderEpoch, end).known());
  // Older than every entry: that epoch, ending where the first one starts.
  const LeaderEpochCache later = Cache({{3, 50}});
  CHECK(later.EndOffsetFor(LeaderEpoch(1), end) == End(1, 50));
  CHECK_FALSE(LeaderEpochCache().EndOffsetFor(LeaderEpoch(0), end).known());
}

TEST_CASE("LeaderEpochCache: assign keeps epochs and starts increasing",
          "[log][epochs]") {
  LeaderEpochCache c;
  CHECK(c.Assign(LeaderEpoch(0), Offset(0)));
  CHECK_FALSE(c.Assign(LeaderEpoch(0), Offset(10)));  // same epoch, later
  CHECK(c.Assign(LeaderEpoch(1), Offset(10)));
  CHECK(c.entries() == Cache({{0, 0}, {1, 10}}).entries());
  // A new leader at the offset where the previous one wrote nothing
  // replaces it.
  CHECK(c.Assign(LeaderEpoch(3), Offset(10)));
  CHECK(c.entries() == Cache({{0, 0}, {3, 10}}).entries());
  // An older epoch (a log that diverged) drops the newer entries.
  CHECK(c.Assign(LeaderEpoch(2), Offset(5)));
  CHECK(c.entries() == Cache({{0, 0}, {2, 5}}).entries());
}

TEST_CASE("LeaderEpochCache: truncation from either end", "[log][epochs]") {
  LeaderEpochCache c = Cache({{0, 0}, {2, 100}, {5, 250}});
  CHECK(c.TruncateFromEnd(Offset(250)));
  CHECK(c.entries() == Cache({{0, 0}, {2, 100}}).entries());
  CHECK_FALSE(c.TruncateFromEnd(Offset(300)));
  CHECK(c.TruncateFromStart(Offset(120)));
  CHECK(c.entries() == Cache({{2, 120}}).entries());
  CHECK_FALSE(c.TruncateFromStart(Offset(120)));
  CHECK_FALSE(c.TruncateFromStart(Offset(10)));
}

TEST_CASE("LeaderEpochCache: the file round-trips and corruption is refused",
          "[log][epochs]") {
  const LeaderEpochCache c = Cache({{0, 0}, {7, 1234}});
  const std::string text = c.Encode();
  CHECK(text.rfind("fjord leader-epoch-checkpoint 1\n2\n0 0\n7 1234\ncrc32c ",
                   0) == 0);
  auto back = LeaderEpochCache::Decode(text);
  REQUIRE(back.ok());
  CHECK(back->entries() == c.entries());
  std::string flipped = text;
  flipped[flipped.find("1234")] = '9';
  CHECK(absl::IsDataLoss(LeaderEpochCache::Decode(flipped).status()));
  CHECK(absl::IsDataLoss(LeaderEpochCache::Decode("garbage").status()));
  // Entries out of order never come from fjord.
  const LeaderEpochCache bad = Cache({{3, 10}, {2, 20}});
  CHECK(absl::IsDataLoss(LeaderEpochCache::Decode(bad.Encode()).status()));
}

struct Fixture {
  TempDir tmp;
  ManualClock clock;
  LogOptions options{PosixFileSystem(), &clock};
  LogConfig config;
  std::string dir = tmp.Sub("t-0");

  Fixture() {
    config.segment_bytes = 64 << 10;
    config.segment_index_bytes = 16 << 10;
    config.flush_ms = -1;
  }
  std::unique_ptr<Log> Open(std::string d = "", bool clean = false) {
    auto log = Log::Open(d.empty() ? dir : d, config, options, {}, clean);
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return *std::move(log);
  }
};

// Every batch of a log, with its leader epoch.
std::vector<std::pair<int64_t, int32_t>> BatchEpochs(const Log& log) {
  std::vector<std::pair<int64_t, int32_t>> out;
  Offset at = log.log_start_offset();
  while (at < log.log_end_offset()) {
    auto r = log.Read(at, 1 << 20);
    REQUIRE(r.ok());
    REQUIRE_FALSE(r->bytes.empty());
    REQUIRE(ForEachBatch(r->bytes, [&](const BatchHeader& h, auto) {
              out.emplace_back(h.base_offset, h.partition_leader_epoch);
              return absl::OkStatus();
            }).ok());
    at = r->next_offset;
  }
  return out;
}

// The bytes of the log from `from`: what a leader serves a follower.
std::string ReadBytes(const Log& log, Offset from) {
  std::string out;
  while (from < log.log_end_offset()) {
    auto r = log.Read(from, 1 << 20);
    REQUIRE(r.ok());
    out.append(reinterpret_cast<const char*>(r->bytes.data()), r->bytes.size());
    from = r->next_offset;
  }
  return out;
}

// The byte position after the first `n` batches of `bytes`.
size_t AfterBatches(const std::string& bytes, int n) {
  size_t pos = 0;
  for (int i = 0; i < n; i++) {
    auto h = ParseBatchHeader(Bytes(bytes).data() + pos, bytes.size() - pos);
    REQUIRE(h.ok());
    pos += h->size_bytes();
  }
  return pos;
}

TEST_CASE("Log: a leader stamps its epoch and records where each epoch starts",
          "[log][epochs]") {
  Fixture f;
  auto log = f.Open();
  MustAppend(*log, MakeBatch(3));  // standalone: no epoch
  REQUIRE(log->BecomeLeader(LeaderEpoch(4)).ok());
  MustAppend(*log, MakeBatch(2));
  REQUIRE(log->BecomeLeader(LeaderEpoch(6)).ok());
  MustAppend(*log, MakeBatch(5));
  CHECK(BatchEpochs(*log) ==
        std::vector<std::pair<int64_t, int32_t>>{{0, -1}, {3, 4}, {5, 6}});
  CHECK(log->epoch_entries() == Cache({{4, 3}, {6, 5}}).entries());
  CHECK(log->EndOffsetForEpoch(LeaderEpoch(4)) == End(4, 5));
  CHECK(log->EndOffsetForEpoch(LeaderEpoch(6)) == End(6, 10));
  // The history is on disk and survives a crash (no clean shutdown).
  log.reset();
  auto again = f.Open();
  CHECK(again->epoch_entries() == Cache({{4, 3}, {6, 5}}).entries());
}

TEST_CASE("Log: a lost epoch checkpoint is rebuilt from the batches",
          "[log][epochs]") {
  Fixture f;
  {
    auto log = f.Open();
    REQUIRE(log->BecomeLeader(LeaderEpoch(1)).ok());
    MustAppend(*log, MakeBatch(2));
    REQUIRE(log->BecomeLeader(LeaderEpoch(3)).ok());
    MustAppend(*log, MakeBatch(2));
    REQUIRE(log->Close().ok());
  }
  const std::string path = f.dir + "/" + std::string(kLeaderEpochFileName);
  SECTION("missing") { REQUIRE(PosixFileSystem()->Remove(path).ok()); }
  SECTION("corrupt") { testing::WriteFileBytes(path, 0, "xxxx"); }
  auto log = f.Open("", /*clean=*/true);
  CHECK(log->epoch_entries() == Cache({{1, 0}, {3, 2}}).entries());
}

TEST_CASE("Log: a follower appends the leader's batches as they are",
          "[log][epochs][follower]") {
  Fixture f;
  auto leader = f.Open(f.tmp.Sub("leader"));
  REQUIRE(leader->BecomeLeader(LeaderEpoch(2)).ok());
  for (int i = 0; i < 40; i++) MustAppend(*leader, MakeBatch(10, "r", 100));
  REQUIRE(leader->BecomeLeader(LeaderEpoch(5)).ok());
  for (int i = 0; i < 40; i++) MustAppend(*leader, MakeBatch(10, "s", 100));

  auto follower = f.Open();
  follower->BecomeFollower(LeaderEpoch(5));
  // A follower's log takes no produce.
  std::string produced = MakeBatch(1);
  CHECK(absl::IsFailedPrecondition(follower->Append(Bytes(produced)).status()));
  const std::string bytes = ReadBytes(*leader, Offset(0));
  // In two fetches, the second across the epoch change.
  const size_t half = AfterBatches(bytes, 40);
  auto first =
      follower->AppendAsFollower(Bytes(bytes).subspan(0, half), LeaderEpoch(5));
  INFO(first.status().ToString());
  REQUIRE(first.ok());
  auto second =
      follower->AppendAsFollower(Bytes(bytes).subspan(half), LeaderEpoch(5));
  INFO(second.status().ToString());
  REQUIRE(second.ok());
  CHECK(follower->log_end_offset() == Offset(800));
  CHECK(follower->segment_count() > 1);  // rolled on segment.bytes
  CHECK(ReadBytes(*follower, Offset(0)) == bytes);
  CHECK(follower->epoch_entries() == leader->epoch_entries());
  CHECK(BatchEpochs(*follower) == BatchEpochs(*leader));
}

TEST_CASE("Log: a follower refuses gaps, overlaps, bad CRCs and stale epochs",
          "[log][epochs][follower]") {
  Fixture f;
  auto leader = f.Open(f.tmp.Sub("leader"));
  REQUIRE(leader->BecomeLeader(LeaderEpoch(1)).ok());
  for (int i = 0; i < 3; i++) MustAppend(*leader, MakeBatch(5));
  const std::string all = ReadBytes(*leader, Offset(0));
  const std::string tail = ReadBytes(*leader, Offset(5));  // batches 2 and 3

  auto follower = f.Open();
  follower->BecomeFollower(LeaderEpoch(1));
  // A gap: the follower is empty, the batches start at 5.
  CHECK(absl::IsInvalidArgument(
      follower->AppendAsFollower(Bytes(tail), LeaderEpoch(1)).status()));
  REQUIRE(follower
              ->AppendAsFollower(Bytes(all).subspan(0, AfterBatches(all, 1)),
                                 LeaderEpoch(1))
              .ok());
  // An overlap: the first batch again.
  CHECK(absl::IsInvalidArgument(
      follower->AppendAsFollower(Bytes(all), LeaderEpoch(1)).status()));
  // A corrupt batch.
  std::string bad = tail;
  bad[bad.size() / 4] ^= 0x5a;
  CHECK_FALSE(follower->AppendAsFollower(Bytes(bad), LeaderEpoch(1)).ok());
  // A fetch made under an older epoch (the role changed meanwhile).
  follower->BecomeFollower(LeaderEpoch(2));
  CHECK(absl::IsFailedPrecondition(
      follower->AppendAsFollower(Bytes(tail), LeaderEpoch(1)).status()));
  CHECK(absl::IsFailedPrecondition(
      follower->TruncateAsFollower(Offset(0), LeaderEpoch(1)).status()));
  CHECK(follower->log_end_offset() == Offset(5));
  REQUIRE(follower->AppendAsFollower(Bytes(tail), LeaderEpoch(2)).ok());
  CHECK(ReadBytes(*follower, Offset(0)) == all);
  // A leader's log is never cut as a follower's.
  REQUIRE(follower->BecomeLeader(LeaderEpoch(3)).ok());
  CHECK(absl::IsFailedPrecondition(
      follower->TruncateAsFollower(Offset(0), LeaderEpoch(3)).status()));
}

TEST_CASE(
    "Log: producer state is rebuilt from replicated batches, so a retry "
    "after failover is recognised",
    "[log][epochs][follower]") {
  Fixture f;
  auto leader = f.Open(f.tmp.Sub("leader"));
  REQUIRE(leader->BecomeLeader(LeaderEpoch(0)).ok());
  const std::string b0 = MakeProducerBatch(3, 77, 0, 0);
  const std::string b1 = MakeProducerBatch(3, 77, 0, 3);
  MustAppend(*leader, b0);
  MustAppend(*leader, b1);
  auto follower = f.Open();
  follower->BecomeFollower(LeaderEpoch(0));
  const std::string bytes = ReadBytes(*leader, Offset(0));
  REQUIRE(follower->AppendAsFollower(Bytes(bytes), LeaderEpoch(0)).ok());
  // The follower becomes leader; the producer retries its second batch.
  REQUIRE(follower->BecomeLeader(LeaderEpoch(1)).ok());
  std::string retry = b1;
  auto again = follower->Append(Bytes(retry));
  REQUIRE(again.ok());
  CHECK(again->duplicate);
  CHECK(again->first_offset == Offset(3));
  std::string next = MakeProducerBatch(2, 77, 0, 6);
  auto appended = follower->Append(Bytes(next));
  REQUIRE(appended.ok());
  CHECK(appended->first_offset == Offset(6));
  std::string gap = MakeProducerBatch(2, 77, 0, 20);
  CHECK_FALSE(follower->Append(Bytes(gap)).ok());
}

TEST_CASE("Log: truncation cuts the epoch history with the batches",
          "[log][epochs][follower]") {
  Fixture f;
  auto log = f.Open();
  REQUIRE(log->BecomeLeader(LeaderEpoch(1)).ok());
  MustAppend(*log, MakeBatch(5));
  REQUIRE(log->BecomeLeader(LeaderEpoch(2)).ok());
  MustAppend(*log, MakeBatch(5));
  MustAppend(*log, MakeBatch(5));
  log->BecomeFollower(LeaderEpoch(3));
  auto end = log->TruncateAsFollower(Offset(5), LeaderEpoch(3));
  REQUIRE(end.ok());
  CHECK(*end == Offset(5));
  CHECK(log->epoch_entries() == Cache({{1, 0}}).entries());
  log.reset();
  CHECK(f.Open()->epoch_entries() == Cache({{1, 0}}).entries());
}

TEST_CASE("Log: a follower behind the leader's log start restarts empty there",
          "[log][epochs][follower]") {
  Fixture f;
  auto log = f.Open();
  log->BecomeFollower(LeaderEpoch(0));
  auto leader = f.Open(f.tmp.Sub("leader"));
  REQUIRE(leader->BecomeLeader(LeaderEpoch(0)).ok());
  MustAppend(*leader, MakeBatch(4));
  REQUIRE(log->AppendAsFollower(Bytes(ReadBytes(*leader, Offset(0))),
                                LeaderEpoch(0))
              .ok());
  REQUIRE(log->TruncateFullyAndStartAt(Offset(1000), LeaderEpoch(0)).ok());
  CHECK(log->log_start_offset() == Offset(1000));
  CHECK(log->log_end_offset() == Offset(1000));
  CHECK(log->epoch_entries().empty());
  // The leader's batches from 1000 on now follow.
  std::string b = MakeBatch(3);
  StampBaseOffset(Bytes(b), Offset(1000));
  StampPartitionLeaderEpoch(Bytes(b), 0);
  REQUIRE(log->AppendAsFollower(Bytes(b), LeaderEpoch(0)).ok());
  log.reset();
  auto again = f.Open();
  CHECK(again->log_start_offset() == Offset(1000));
  CHECK(again->log_end_offset() == Offset(1003));
  CHECK(ReadAll(*again).size() == 3);
}

}  // namespace
}  // namespace fjord::log

namespace fjord::log {
namespace {

TruncationStep Step(int64_t to, bool done, int32_t ask = -1) {
  return {Offset(to), done, LeaderEpoch(ask)};
}

TEST_CASE(
    "Truncation: a follower cuts where its epoch history stops agreeing with "
    "the leader's, not at its high watermark",
    "[log][epochs][truncation]") {
  // The old leader (epochs 0 and 3) wrote 50..79 in epoch 3 that nobody
  // else got; the new leader took over at epoch 4 from 50 and wrote more.
  const LeaderEpochCache follower = Cache({{0, 0}, {3, 50}});
  const LeaderEpochCache leader = Cache({{0, 0}, {4, 50}});
  const EpochEndOffset answer = leader.EndOffsetFor(LeaderEpoch(3), Offset(90));
  CHECK(answer == End(0, 50));
  // The follower's high watermark (20) is far below: it keeps 20..49.
  CHECK(NextTruncationStep(answer, follower, Offset(80), Offset(20)) ==
        Step(50, true));
}

TEST_CASE("Truncation: the worked example of NextTruncationStep",
          "[log][epochs][truncation]") {
  LeaderEpochCache follower = Cache({{0, 0}, {3, 50}});
  const LeaderEpochCache leader = Cache({{0, 0}, {2, 40}, {4, 60}});
  // Ask about 3: the leader's floor is 2, ending at 60; the follower has
  // no epoch 2: it cuts where its epoch 0 ends (50) and asks about 0.
  TruncationStep s =
      NextTruncationStep(leader.EndOffsetFor(LeaderEpoch(3), Offset(100)),
                         follower, Offset(80), Offset(0));
  CHECK(s == Step(50, false, 0));
  follower.TruncateFromEnd(Offset(50));
  s = NextTruncationStep(leader.EndOffsetFor(s.ask_next, Offset(100)), follower,
                         Offset(50), Offset(0));
  CHECK(s == Step(40, true));
}

TEST_CASE("Truncation: nothing is cut when the leader has all of it",
          "[log][epochs][truncation]") {
  const LeaderEpochCache follower = Cache({{0, 0}, {2, 30}});
  const LeaderEpochCache leader = Cache({{0, 0}, {2, 30}, {5, 70}});
  // The follower is behind within epoch 2: the leader's epoch 2 ends at 70.
  CHECK(NextTruncationStep(leader.EndOffsetFor(LeaderEpoch(2), Offset(90)),
                           follower, Offset(45), Offset(10)) == Step(45, true));
  // The follower's latest epoch is the leader's: its end is the leader's
  // log end.
  CHECK(NextTruncationStep(leader.EndOffsetFor(LeaderEpoch(5), Offset(90)),
                           Cache({{5, 70}}), Offset(85),
                           Offset(10)) == Step(85, true));
}

TEST_CASE(
    "Truncation: a follower ahead within a shared epoch cuts to the leader's "
    "end of it; an unknown answer falls back to the high watermark",
    "[log][epochs][truncation]") {
  const LeaderEpochCache follower = Cache({{1, 0}});
  // Both in epoch 1, but the leader's epoch 1 ended at 25 (then epoch 2).
  const LeaderEpochCache leader = Cache({{1, 0}, {2, 25}});
  CHECK(NextTruncationStep(leader.EndOffsetFor(LeaderEpoch(1), Offset(40)),
                           follower, Offset(30), Offset(5)) == Step(25, true));
  CHECK(NextTruncationStep(EpochEndOffset{}, follower, Offset(30), Offset(5)) ==
        Step(5, true));
  // A fallback past the end cuts nothing.
  CHECK(NextTruncationStep(EpochEndOffset{}, follower, Offset(30),
                           Offset(99)) == Step(30, true));
}

}  // namespace
}  // namespace fjord::log
