#include "log/index.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "log/file_system.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

constexpr Offset kBase(100);

std::unique_ptr<OffsetIndex> OpenOffsetIndex(const std::string& path,
                                             size_t preallocate,
                                             Offset base = kBase) {
  auto index = OffsetIndex::Open(PosixFileSystem(), path, base, preallocate);
  INFO(index.status().ToString());
  REQUIRE(index.ok());
  return *std::move(index);
}

std::unique_ptr<TimeIndex> OpenTimeIndex(const std::string& path,
                                         size_t preallocate,
                                         Offset base = kBase) {
  auto index = TimeIndex::Open(PosixFileSystem(), path, base, preallocate);
  INFO(index.status().ToString());
  REQUIRE(index.ok());
  return *std::move(index);
}

void AppendBE(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) {
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}

// Raw .index bytes: [relative offset u32][position u32] per entry.
std::string OffsetEntries(
    const std::vector<std::pair<uint32_t, uint32_t>>& entries) {
  std::string s;
  for (auto [rel, pos] : entries) {
    AppendBE(&s, rel, 4);
    AppendBE(&s, pos, 4);
  }
  return s;
}

// Raw .timeindex bytes: [timestamp i64][relative offset u32] per entry.
std::string TimeEntries(
    const std::vector<std::pair<int64_t, uint32_t>>& entries) {
  std::string s;
  for (auto [ts, rel] : entries) {
    AppendBE(&s, static_cast<uint64_t>(ts), 8);
    AppendBE(&s, rel, 4);
  }
  return s;
}

void WriteWholeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

void CheckLookup(const OffsetIndex& index, int64_t target, int64_t offset,
                 uint32_t position) {
  INFO("Lookup(" << target << ")");
  OffsetPosition got = index.Lookup(Offset(target));
  CHECK(got.offset.value() == offset);
  CHECK(got.position == position);
}

// -------------------------------------------------------------- OffsetIndex

TEST_CASE("OffsetIndex Lookup returns the largest entry at or below the "
          "target, or the base before the first",
          "[log][index]") {
  testing::TempDir dir;
  auto index = OpenOffsetIndex(dir.Sub("a.index"), 4096);
  CHECK(index->file().entries() == 0);
  CheckLookup(*index, 100, 100, 0);
  CheckLookup(*index, 5000, 100, 0);

  index->Append(Offset(110), 1000);
  index->Append(Offset(120), 2000);
  index->Append(Offset(130), 3000);
  REQUIRE(index->file().entries() == 3);

  CheckLookup(*index, 0, 100, 0);
  CheckLookup(*index, 100, 100, 0);
  CheckLookup(*index, 109, 100, 0);
  CheckLookup(*index, 110, 110, 1000);
  CheckLookup(*index, 119, 110, 1000);
  CheckLookup(*index, 120, 120, 2000);
  CheckLookup(*index, 129, 120, 2000);
  CheckLookup(*index, 130, 130, 3000);
  CheckLookup(*index, std::numeric_limits<int64_t>::max(), 130, 3000);

  OffsetPosition e = index->Entry(1);
  CHECK(e.offset.value() == 120);
  CHECK(e.position == 2000);
}

TEST_CASE("OffsetIndex Lookup agrees with a linear scan over many entries",
          "[log][index]") {
  testing::TempDir dir;
  auto index = OpenOffsetIndex(dir.Sub("b.index"), 8 * 1000);
  std::mt19937 rng(17);
  std::vector<std::pair<int64_t, uint32_t>> entries;
  int64_t offset = kBase.value();
  uint32_t position = 0;
  for (int i = 0; i < 700; i++) {
    offset += 1 + rng() % 20;
    position += 1 + rng() % 5000;
    index->Append(Offset(offset), position);
    entries.emplace_back(offset, position);
  }
  for (int64_t target = kBase.value() - 3; target <= offset + 3; target++) {
    int64_t want_offset = kBase.value();
    uint32_t want_position = 0;
    for (auto [o, p] : entries) {
      if (o <= target) {
        want_offset = o;
        want_position = p;
      }
    }
    OffsetPosition got = index->Lookup(Offset(target));
    if (got.offset.value() != want_offset || got.position != want_position) {
      FAIL("Lookup(" << target << ") gave " << got.offset << "@"
                     << got.position << ", want " << want_offset << "@"
                     << want_position);
    }
  }
}

TEST_CASE("OffsetIndex entries are big-endian offsets relative to the base",
          "[log][index]") {
  testing::TempDir dir;
  const std::string path = dir.Sub("c.index");
  auto index = OpenOffsetIndex(path, 4096);
  index->Append(Offset(110), 1000);
  index->Append(Offset(100 + 0x01020304), 0x0a0b0c0d);
  REQUIRE(index->file().Trim().ok());
  CHECK(testing::ReadFileBytes(path) ==
        OffsetEntries({{10, 1000}, {0x01020304, 0x0a0b0c0d}}));
}

TEST_CASE("OffsetIndex CanHold accepts offsets within int32 of the base",
          "[log][index]") {
  testing::TempDir dir;
  auto index = OpenOffsetIndex(dir.Sub("d.index"), 4096);
  const int64_t max_rel = std::numeric_limits<int32_t>::max();
  CHECK(index->CanHold(kBase));
  CHECK(index->CanHold(kBase + max_rel));
  CHECK_FALSE(index->CanHold(kBase + (max_rel + 1)));
  CHECK_FALSE(index->CanHold(kBase - 1));
}

TEST_CASE("A full index reports full() and preallocation rounds down to whole "
          "entries",
          "[log][index]") {
  testing::TempDir dir;
  SECTION("offset index") {
    auto index = OpenOffsetIndex(dir.Sub("e.index"), 30);  // 3 entries + 6
    CHECK(index->file().capacity() == 3);
    CHECK(testing::FileSize(dir.Sub("e.index")) == 24);
    for (int i = 1; i <= 3; i++) {
      CHECK_FALSE(index->file().full());
      index->Append(kBase + i, static_cast<uint32_t>(i * 100));
    }
    CHECK(index->file().full());
    CHECK(index->file().entries() == 3);
    CHECK(index->Entry(2).offset.value() == 103);
  }
  SECTION("time index") {
    auto index = OpenTimeIndex(dir.Sub("e.timeindex"), 40);  // 3 entries + 4
    CHECK(index->file().capacity() == 3);
    for (int i = 1; i <= 3; i++) {
      CHECK_FALSE(index->file().full());
      CHECK(index->MaybeAppend(i * 10, kBase + i));
    }
    CHECK(index->file().full());
    CHECK_FALSE(index->MaybeAppend(1000, kBase + 10));
    CHECK(index->file().entries() == 3);
    CHECK(index->Last()->timestamp == 30);
  }
}

TEST_CASE("OffsetIndex TruncateFromPosition drops entries at or after the "
          "position",
          "[log][index]") {
  testing::TempDir dir;
  auto index = OpenOffsetIndex(dir.Sub("f.index"), 4096);
  index->Append(Offset(110), 1000);
  index->Append(Offset(120), 2000);
  index->Append(Offset(130), 3000);
  index->TruncateFromPosition(3001);
  CHECK(index->file().entries() == 3);
  index->TruncateFromPosition(2001);
  CHECK(index->file().entries() == 2);
  index->TruncateFromPosition(2000);
  CHECK(index->file().entries() == 1);
  CheckLookup(*index, 125, 110, 1000);
  index->TruncateFromPosition(0);
  CHECK(index->file().entries() == 0);
  CheckLookup(*index, 125, 100, 0);
  // Appends continue after a truncation.
  index->Append(Offset(105), 500);
  CheckLookup(*index, 125, 105, 500);
}

// ---------------------------------------------------------------- TimeIndex

TEST_CASE("TimeIndex LookupBefore returns the entry with the largest "
          "timestamp strictly below the target",
          "[log][index]") {
  testing::TempDir dir;
  auto index = OpenTimeIndex(dir.Sub("a.timeindex"), 4096);
  CHECK_FALSE(index->LookupBefore(0).has_value());
  CHECK_FALSE(index->LookupBefore(std::numeric_limits<int64_t>::max())
                  .has_value());
  CHECK_FALSE(index->Last().has_value());

  REQUIRE(index->MaybeAppend(10, Offset(101)));
  REQUIRE(index->MaybeAppend(20, Offset(105)));
  REQUIRE(index->MaybeAppend(30, Offset(105)));
  REQUIRE(index->file().entries() == 3);

  struct Case {
    int64_t target;
    std::optional<int64_t> ts;
    int64_t offset;
  };
  for (const Case& c : std::vector<Case>{{std::numeric_limits<int64_t>::min(),
                                          std::nullopt, 0},
                                         {9, std::nullopt, 0},
                                         {10, std::nullopt, 0},
                                         {11, 10, 101},
                                         {20, 10, 101},
                                         {21, 20, 105},
                                         {30, 20, 105},
                                         {31, 30, 105},
                                         {std::numeric_limits<int64_t>::max(),
                                          30, 105}}) {
    INFO("LookupBefore(" << c.target << ")");
    auto got = index->LookupBefore(c.target);
    REQUIRE(got.has_value() == c.ts.has_value());
    if (got) {
      CHECK(got->timestamp == *c.ts);
      CHECK(got->offset.value() == c.offset);
    }
  }
  auto last = index->Last();
  REQUIRE(last.has_value());
  CHECK(last->timestamp == 30);
  CHECK(last->offset.value() == 105);
}

TEST_CASE("TimeIndex MaybeAppend ignores timestamps that do not increase",
          "[log][index]") {
  testing::TempDir dir;
  auto index = OpenTimeIndex(dir.Sub("b.timeindex"), 4096);
  // Timestamps <= 0 (Kafka's -1 "no timestamp", or zero) are never indexed,
  // so a zero-filled slot can never be mistaken for an entry.
  CHECK(index->MaybeAppend(-1, Offset(100)));
  CHECK(index->MaybeAppend(0, Offset(100)));
  CHECK(index->file().entries() == 0);
  CHECK(index->MaybeAppend(1, Offset(100)));
  CHECK(index->MaybeAppend(50, Offset(101)));
  CHECK(index->MaybeAppend(50, Offset(102)));
  CHECK(index->MaybeAppend(49, Offset(103)));
  CHECK(index->MaybeAppend(-100, Offset(104)));
  REQUIRE(index->file().entries() == 2);
  CHECK(index->Entry(0).timestamp == 1);
  CHECK(index->Last()->timestamp == 50);
  CHECK(index->Last()->offset.value() == 101);
  CHECK(index->MaybeAppend(51, Offset(105)));
  CHECK(index->file().entries() == 3);
  CHECK(index->Entry(2).offset.value() == 105);
}

TEST_CASE("TimeIndex entries are big-endian [timestamp][relative offset]",
          "[log][index]") {
  testing::TempDir dir;
  const std::string path = dir.Sub("c.timeindex");
  auto index = OpenTimeIndex(path, 4096);
  REQUIRE(index->MaybeAppend(0x0102030405060708, Offset(100 + 0x0a0b0c0d)));
  REQUIRE(index->file().Trim().ok());
  CHECK(testing::ReadFileBytes(path) ==
        TimeEntries({{0x0102030405060708, 0x0a0b0c0d}}));
}

// -------------------------------------------------------- trim and reopen

TEST_CASE("Trim shrinks an index to its entries and reopening it without "
          "preallocation gives the same entries",
          "[log][index]") {
  testing::TempDir dir;
  SECTION("offset index") {
    const std::string path = dir.Sub("t.index");
    {
      auto index = OpenOffsetIndex(path, 4096);
      CHECK(testing::FileSize(path) == 4096);
      for (int i = 1; i <= 5; i++) {
        index->Append(kBase + i * 10, static_cast<uint32_t>(i * 1000));
      }
      REQUIRE(index->file().Trim().ok());
      CHECK(testing::FileSize(path) == 5 * OffsetIndex::kEntrySize);
      // The trimmed index still answers from its mapping.
      CheckLookup(*index, 135, 130, 3000);
    }
    auto reopened = OpenOffsetIndex(path, 0);
    CHECK_FALSE(reopened->file().writable());
    CHECK(reopened->file().entries() == 5);
    CHECK(reopened->file().full());
    for (size_t i = 0; i < 5; i++) {
      OffsetPosition e = reopened->Entry(i);
      CHECK(e.offset.value() == kBase.value() + 10 * (int64_t(i) + 1));
      CHECK(e.position == 1000 * (i + 1));
    }
    CheckLookup(*reopened, 135, 130, 3000);
    CHECK(testing::FileSize(path) == 5 * OffsetIndex::kEntrySize);

    SECTION("and Reopen grows it back for appends") {
      REQUIRE(reopened->file().Reopen(4096).ok());
      CHECK(reopened->file().writable());
      CHECK(reopened->file().entries() == 5);
      CHECK(reopened->file().capacity() == 4096 / 8);
      reopened->Append(kBase + 60, 6000);
      CheckLookup(*reopened, 1000, 160, 6000);
      CheckLookup(*reopened, 135, 130, 3000);
    }
  }
  SECTION("time index") {
    const std::string path = dir.Sub("t.timeindex");
    {
      auto index = OpenTimeIndex(path, 1200);
      for (int i = 1; i <= 4; i++) {
        REQUIRE(index->MaybeAppend(i * 100, kBase + i));
      }
      REQUIRE(index->file().Trim().ok());
      CHECK(testing::FileSize(path) == 4 * TimeIndex::kEntrySize);
    }
    auto reopened = OpenTimeIndex(path, 0);
    CHECK(reopened->file().entries() == 4);
    for (size_t i = 0; i < 4; i++) {
      TimestampOffset e = reopened->Entry(i);
      CHECK(e.timestamp == 100 * (int64_t(i) + 1));
      CHECK(e.offset.value() == kBase.value() + int64_t(i) + 1);
    }
    auto before = reopened->LookupBefore(250);
    REQUIRE(before.has_value());
    CHECK(before->timestamp == 200);
  }
  SECTION("empty index") {
    const std::string path = dir.Sub("empty.index");
    {
      auto index = OpenOffsetIndex(path, 4096);
      REQUIRE(index->file().Trim().ok());
    }
    CHECK(testing::FileSize(path) == 0);
    auto reopened = OpenOffsetIndex(path, 0);
    CHECK(reopened->file().entries() == 0);
    CheckLookup(*reopened, 500, 100, 0);
  }
}

TEST_CASE("Opening a missing index without preallocation fails",
          "[log][index]") {
  testing::TempDir dir;
  auto index =
      OffsetIndex::Open(PosixFileSystem(), dir.Sub("missing.index"), kBase, 0);
  CHECK(index.status().code() == absl::StatusCode::kNotFound);
}

// --------------------------------------------------------- crash recovery

TEST_CASE("OffsetIndex TruncateToValidPrefix keeps the longest consistent "
          "prefix below the position limit",
          "[log][index]") {
  testing::TempDir dir;
  const std::string path = dir.Sub("r.index");
  auto open_with = [&](const std::string& bytes) {
    WriteWholeFile(path, bytes);
    // As after a crash: the file is reopened with preallocation, which counts
    // every entry in it.
    auto index = OpenOffsetIndex(path, bytes.size());
    REQUIRE(index->file().entries() == bytes.size() / 8);
    return index;
  };
  SECTION("a well-formed index is kept whole") {
    auto index = open_with(OffsetEntries({{1, 100}, {2, 200}, {3, 300}}));
    CHECK(index->TruncateToValidPrefix(1000) == 0);
    CHECK(index->file().entries() == 3);
  }
  SECTION("a position that goes backwards ends the prefix") {
    auto index =
        open_with(OffsetEntries({{1, 100}, {2, 200}, {3, 150}, {4, 400}}));
    CHECK(index->TruncateToValidPrefix(1000) == 2);
    CHECK(index->file().entries() == 2);
    CheckLookup(*index, 1000, 102, 200);
  }
  SECTION("a repeated position ends the prefix") {
    auto index = open_with(OffsetEntries({{1, 100}, {2, 100}}));
    CHECK(index->TruncateToValidPrefix(1000) == 1);
  }
  SECTION("an offset that does not increase ends the prefix") {
    auto index =
        open_with(OffsetEntries({{1, 100}, {5, 200}, {5, 300}, {6, 400}}));
    CHECK(index->TruncateToValidPrefix(1000) == 2);
    CHECK(index->file().entries() == 2);
  }
  SECTION("an offset beyond int32 of the base ends the prefix") {
    auto index = open_with(OffsetEntries({{1, 100}, {0x80000000u, 200}}));
    CHECK(index->TruncateToValidPrefix(1000) == 1);
  }
  SECTION("entries at or after the position limit are dropped") {
    auto index = open_with(OffsetEntries({{1, 100}, {2, 200}, {3, 300}}));
    CHECK(index->TruncateToValidPrefix(200) == 2);
    CHECK(index->file().entries() == 1);
    CheckLookup(*index, 1000, 101, 100);
  }
  SECTION("a limit of zero drops everything") {
    auto index = open_with(OffsetEntries({{1, 100}, {2, 200}}));
    CHECK(index->TruncateToValidPrefix(0) == 2);
    CHECK(index->file().entries() == 0);
  }
}

TEST_CASE("TimeIndex TruncateToValidPrefix keeps the longest consistent "
          "prefix below the offset limit",
          "[log][index]") {
  testing::TempDir dir;
  const std::string path = dir.Sub("r.timeindex");
  auto open_with = [&](const std::string& bytes) {
    WriteWholeFile(path, bytes);
    auto index = OpenTimeIndex(path, bytes.size());
    REQUIRE(index->file().entries() == bytes.size() / 12);
    return index;
  };
  const Offset far(1'000'000);
  SECTION("a well-formed index is kept whole, equal offsets included") {
    auto index = open_with(TimeEntries({{10, 1}, {20, 1}, {30, 4}}));
    CHECK(index->TruncateToValidPrefix(far) == 0);
    CHECK(index->file().entries() == 3);
  }
  SECTION("a timestamp that does not increase ends the prefix") {
    auto index = open_with(TimeEntries({{10, 1}, {20, 2}, {20, 3}, {40, 4}}));
    CHECK(index->TruncateToValidPrefix(far) == 2);
    CHECK(index->Last()->timestamp == 20);
    index = open_with(TimeEntries({{10, 1}, {20, 2}, {15, 3}}));
    CHECK(index->TruncateToValidPrefix(far) == 1);
  }
  SECTION("an offset that goes backwards ends the prefix") {
    auto index = open_with(TimeEntries({{10, 5}, {20, 3}}));
    CHECK(index->TruncateToValidPrefix(far) == 1);
    CHECK(index->Last()->offset.value() == 105);
  }
  SECTION("entries at or after the offset limit are dropped") {
    auto index = open_with(TimeEntries({{10, 1}, {20, 2}, {30, 3}}));
    CHECK(index->TruncateToValidPrefix(kBase + 2) == 2);
    CHECK(index->file().entries() == 1);
    CHECK(index->Last()->offset.value() == 101);
  }
}

TEST_CASE("The zero-filled tail of a preallocated index is not counted after "
          "TruncateToValidPrefix",
          "[log][index]") {
  testing::TempDir dir;
  SECTION("offset index") {
    const std::string path = dir.Sub("z.index");
    {
      auto index = OpenOffsetIndex(path, 8 * 50);
      index->Append(kBase + 5, 4096);
      index->Append(kBase + 9, 8192);
      index->Append(kBase + 20, 12288);
      // Dropped without Trim, as in a crash.
    }
    CHECK(testing::FileSize(path) == 8 * 50);
    auto index = OpenOffsetIndex(path, 8 * 50);
    CHECK(index->file().entries() == 50);  // every preallocated slot
    CHECK(index->TruncateToValidPrefix(1 << 20) == 47);
    REQUIRE(index->file().entries() == 3);
    CHECK(index->Entry(2).offset.value() == kBase.value() + 20);
    CHECK(index->Entry(2).position == 12288);
    // Appends resume after the recovered entries.
    index->Append(kBase + 30, 16384);
    CheckLookup(*index, 1000, 130, 16384);
  }
  SECTION("time index") {
    const std::string path = dir.Sub("z.timeindex");
    {
      auto index = OpenTimeIndex(path, 12 * 50);
      REQUIRE(index->MaybeAppend(1000, kBase + 4));
      REQUIRE(index->MaybeAppend(2000, kBase + 8));
    }
    auto index = OpenTimeIndex(path, 12 * 50);
    CHECK(index->file().entries() == 50);
    CHECK(index->TruncateToValidPrefix(kBase + 100) == 48);
    REQUIRE(index->file().entries() == 2);
    CHECK(index->Last()->timestamp == 2000);
  }
}

// An index that never got an entry before the crash is all zero bytes. Its
// first slot reads as (base, position 0) / (timestamp 0, base) and passes the
// monotonicity checks on its own; it must not be taken for a real entry. For
// the time index that phantom entry claims "every record up to the base has
// timestamp <= 0", so a timestamp lookup would skip the base record.
TEST_CASE("An all-zero preallocated index has no entries after "
          "TruncateToValidPrefix",
          "[log][index]") {
  testing::TempDir dir;
  SECTION("offset index") {
    const std::string path = dir.Sub("zz.index");
    { auto index = OpenOffsetIndex(path, 8 * 50); }
    auto index = OpenOffsetIndex(path, 8 * 50);
    REQUIRE(index->file().entries() == 50);
    index->TruncateToValidPrefix(1 << 20);
    CHECK(index->file().entries() == 0);
  }
  SECTION("time index") {
    const std::string path = dir.Sub("zz.timeindex");
    { auto index = OpenTimeIndex(path, 12 * 50); }
    auto index = OpenTimeIndex(path, 12 * 50);
    REQUIRE(index->file().entries() == 50);
    index->TruncateToValidPrefix(kBase + 100);
    CHECK(index->file().entries() == 0);
    CHECK_FALSE(index->LookupBefore(500).has_value());
  }
}

}  // namespace
}  // namespace fjord::log
