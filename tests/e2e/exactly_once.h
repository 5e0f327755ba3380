// The exactly-once check shared by the end-to-end idempotence tests: the
// fjord client's and librdkafka's producers send record i of a run to
// partition i % kPartitions as that partition's sequence i / kPartitions,
// with a value that starts "p<partition>-s<sequence>-" (the fjord client's
// test pads it to kValueSize bytes); each test records what its producer
// reported per record, reads the partitions back, and checks them here.
// Functions only; they fail the current Catch2 test.
#ifndef FJORD_TESTS_E2E_EXACTLY_ONCE_H_
#define FJORD_TESTS_E2E_EXACTLY_ONCE_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "catch2/catch.hpp"

namespace fjord::testing {

inline constexpr int kPartitions = 6;
inline constexpr size_t kValueSize = 100;

// What a producer reported for one record: its offset (>= 0), or one of
// these. kDelivered is OK without an offset (a DUPLICATE_SEQUENCE answer).
inline constexpr int64_t kPending = -1;
inline constexpr int64_t kFailed = -2;
inline constexpr int64_t kDelivered = -3;

// [partition][sequence] -> what the producer reported.
using Reports = std::vector<std::vector<int64_t>>;

inline Reports NewReports(int64_t total) {
  return Reports(kPartitions,
                 std::vector<int64_t>(total / kPartitions + 1, kPending));
}

// One record as read back from partition p: its offset and the sequence
// its value carries.
struct Read {
  int64_t offset;
  int64_t seq;
};

// The sequence a value read from partition `p` carries; fails the test if
// the value is not one of this run's for that partition.
inline int64_t SequenceOf(int p, std::string_view value) {
  const std::string v(value);
  INFO("partition " << p << " value " << v);
  int vp = -1;
  long long seq = -1;
  REQUIRE(std::sscanf(v.c_str(), "p%d-s%lld-", &vp, &seq) == 2);
  REQUIRE(vp == p);
  return seq;
}

// Checks what was read back (per partition, in offset order) against the
// reports: per partition the sequences strictly increase (send order,
// never twice), every acknowledged record is there at the offset it was
// reported at, and nothing is there that was not sent. Returns how many
// records were read.
inline int64_t VerifyExactlyOnce(const std::vector<std::vector<Read>>& read,
                                 const Reports& reports, int64_t total) {
  int64_t count = 0;
  for (int p = 0; p < kPartitions; p++) {
    const int64_t sent = (total - p + kPartitions - 1) / kPartitions;
    int64_t last_seq = -1;
    std::vector<bool> seen(sent, false);
    for (const Read& r : read[p]) {
      INFO("partition " << p << " offset " << r.offset << " sequence " << r.seq
                        << " after " << last_seq);
      REQUIRE(r.seq < sent);
      REQUIRE(r.seq > last_seq);  // in send order, never twice
      last_seq = r.seq;
      seen[r.seq] = true;
      const int64_t reported = reports[p][r.seq];
      if (reported >= 0) REQUIRE(reported == r.offset);
      count++;
    }
    for (int64_t seq = 0; seq < sent; seq++) {
      const int64_t reported = reports[p][seq];
      if (reported >= 0 || reported == kDelivered) {
        INFO("partition " << p << " sequence " << seq << " acknowledged");
        REQUIRE(seen[seq]);  // acknowledged, so it is there
      }
    }
  }
  return count;
}

}  // namespace fjord::testing

#endif  // FJORD_TESTS_E2E_EXACTLY_ONCE_H_
