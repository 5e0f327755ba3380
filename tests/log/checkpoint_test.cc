#include "log/checkpoint.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "log/crc32c.h"
#include "log/fault_injection_file_system.h"
#include "log/file_names.h"
#include "log/file_system.h"
#include "tests/util/test_util.h"

namespace fjord::log {
namespace {

RecoveryPoints SamplePoints() {
  RecoveryPoints points;
  points[{"orders", 0}] = RecoveryPoint{Offset(0), Offset(0), 0};
  points[{"orders", 1}] = RecoveryPoint{Offset(1234), Offset(1000), 56789};
  points[{"orders", 2}] = RecoveryPoint{Offset(99), Offset(50), 4096};
  points[{"my-topic", 12}] = RecoveryPoint{Offset(7), Offset(7), 0};
  points[{"a.b_c", 2147483647}] =
      RecoveryPoint{Offset(std::numeric_limits<int64_t>::max()),
                    Offset(std::numeric_limits<int64_t>::max() - 10),
                    std::numeric_limits<uint64_t>::max()};
  points[{std::string(249, 't'), 3}] = RecoveryPoint{Offset(5), Offset(0), 300};
  return points;
}

void CheckSamePoints(const RecoveryPoints& got, const RecoveryPoints& want) {
  REQUIRE(got.size() == want.size());
  for (const auto& [tp, rp] : want) {
    INFO(tp.ToString());
    auto it = got.find(tp);
    REQUIRE(it != got.end());
    CHECK(it->second.offset == rp.offset);
    CHECK(it->second.segment_base == rp.segment_base);
    CHECK(it->second.position == rp.position);
  }
}

TEST_CASE("Recovery points round-trip through Encode and Decode",
          "[log][checkpoint]") {
  SECTION("several partitions") {
    const RecoveryPoints points = SamplePoints();
    std::string text = EncodeRecoveryPoints(points);
    auto decoded = DecodeRecoveryPoints(text);
    INFO(decoded.status().ToString());
    REQUIRE(decoded.ok());
    CheckSamePoints(*decoded, points);
    // Encoding is deterministic.
    CHECK(EncodeRecoveryPoints(*decoded) == text);
  }
  SECTION("no partitions") {
    std::string text = EncodeRecoveryPoints({});
    auto decoded = DecodeRecoveryPoints(text);
    REQUIRE(decoded.ok());
    CHECK(decoded->empty());
  }
}

TEST_CASE("Decoding rejects text that is not a checkpoint",
          "[log][checkpoint]") {
  for (std::string_view bad :
       {"", "\n", "crc32c ", "crc32c 00000000\n", "hello world\n",
        "fjord recovery-point-checkpoint 1\n0\n"}) {
    INFO("'" << bad << "'");
    CHECK(DecodeRecoveryPoints(bad).status().code() ==
          absl::StatusCode::kDataLoss);
  }
}

// Text with a correct CRC line, so only the parser behind the CRC can object.
std::string WithCrc(const std::string& body) {
  return body + absl::StrFormat("crc32c %08x\n", crc32c::Value(body));
}

TEST_CASE("Decoding rejects a correctly checksummed checkpoint whose content "
          "does not parse",
          "[log][checkpoint]") {
  const std::string header = "fjord recovery-point-checkpoint 1\n";
  SECTION("the well-formed reference decodes") {
    auto decoded = DecodeRecoveryPoints(
        WithCrc(header + "2\norders 0 10 0 100\norders 1 20 5 200\n"));
    REQUIRE(decoded.ok());
    REQUIRE(decoded->size() == 2);
    const RecoveryPoint& rp = decoded->at(TopicPartition{"orders", 1});
    CHECK(rp.offset.value() == 20);
    CHECK(rp.segment_base.value() == 5);
    CHECK(rp.position == 200);
    // And matches what Encode writes for the same points.
    CHECK(EncodeRecoveryPoints(*decoded) ==
          WithCrc(header + "2\norders 0 10 0 100\norders 1 20 5 200\n"));
  }
  for (std::string body : {
           header + "3\norders 0 10 0 100\norders 1 20 5 200\n",  // count
           header + "1\norders 0 10 0 100\norders 1 20 5 200\n",  // count
           header + "x\norders 0 10 0 100\n",                     // count
           std::string("fjord recovery-point-checkpoint 2\n0\n"),  // version
           header + "1\nbad/topic 0 10 0 100\n",
           header + "1\norders zero 10 0 100\n",
           header + "1\norders 0 ten 0 100\n",
           header + "1\norders 0 10 0 -100\n",
           header + "1\norders 0 10 0\n",
           header + "1\norders 0 10 0 100 7\n",
           header + "1\norders 0 99999999999999999999 0 100\n",
       }) {
    INFO(body);
    CHECK(DecodeRecoveryPoints(WithCrc(body)).status().code() ==
          absl::StatusCode::kDataLoss);
  }
}

// Every position, every other byte value: the CRC-32C over the body catches
// each change. (255 x ~500 decodes; each is microseconds.)
TEST_CASE("Any single-byte change in a checkpoint's body is data loss",
          "[log][checkpoint]") {
  const std::string text = EncodeRecoveryPoints(SamplePoints());
  const size_t crc_line = text.rfind("crc32c ");
  REQUIRE(crc_line != std::string::npos);
  REQUIRE(crc_line > 0);
  for (size_t i = 0; i < crc_line; i++) {
    std::string bad = text;
    for (int b = 0; b < 256; b++) {
      if (static_cast<char>(b) == text[i]) continue;
      bad[i] = static_cast<char>(b);
      auto s = DecodeRecoveryPoints(bad).status();
      if (s.code() != absl::StatusCode::kDataLoss) {
        FAIL("byte " << i << " ('" << text[i] << "') changed to " << b
                     << " gave " << s);
      }
    }
  }
}

// The CRC line itself must be exactly what Encode writes: otherwise a
// damaged line (a newline turned into a space, a digit's case flipped, a
// leading zero turned into a space or '+') is accepted as intact.
TEST_CASE("Any single-byte change in a checkpoint's CRC line is data loss",
          "[log][checkpoint]") {
  RecoveryPoints points = SamplePoints();
  // Find content whose CRC has a leading zero and a letter digit, so every
  // lenient parse of the hex is exercised.
  std::string text;
  for (int i = 0; i < 100000; i++) {
    points[{"probe", 0}] = RecoveryPoint{Offset(i), Offset(0), 0};
    text = EncodeRecoveryPoints(points);
    std::string hex = text.substr(text.rfind("crc32c ") + 7, 8);
    if (hex[0] == '0' && hex.find_first_of("abcdef") != std::string::npos) {
      break;
    }
  }
  const size_t crc_line = text.rfind("crc32c ");
  INFO(text.substr(crc_line));
  std::vector<std::string> undetected;
  for (size_t i = crc_line; i < text.size(); i++) {
    std::string bad = text;
    for (int b = 0; b < 256; b++) {
      if (static_cast<char>(b) == text[i]) continue;
      bad[i] = static_cast<char>(b);
      auto s = DecodeRecoveryPoints(bad).status();
      if (s.code() != absl::StatusCode::kDataLoss) {
        undetected.push_back("byte " + std::to_string(i - crc_line) +
                             " of the crc line -> " + std::to_string(b));
      }
    }
  }
  for (const auto& u : undetected) UNSCOPED_INFO(u);
  CHECK(undetected.empty());
}

TEST_CASE("A truncated checkpoint is data loss", "[log][checkpoint]") {
  const std::string text = EncodeRecoveryPoints(SamplePoints());
  // Every cut that loses more than the final newline.
  for (size_t n = 0; n + 1 < text.size(); n++) {
    auto s = DecodeRecoveryPoints(std::string_view(text).substr(0, n)).status();
    if (s.code() != absl::StatusCode::kDataLoss) {
      FAIL("truncated to " << n << " bytes gave " << s);
    }
  }
}

TEST_CASE("ReadRecoveryPoints reports a missing file as not found",
          "[log][checkpoint]") {
  testing::TempDir dir;
  auto read = ReadRecoveryPoints(
      PosixFileSystem(), dir.Sub(std::string(kRecoveryPointFileName)));
  CHECK(read.status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("WriteRecoveryPoints replaces the file and leaves no temporary "
          "behind",
          "[log][checkpoint]") {
  testing::TempDir dir;
  FileSystem* fs = PosixFileSystem();
  const std::string path = dir.Sub(std::string(kRecoveryPointFileName));

  RecoveryPoints first = SamplePoints();
  REQUIRE(WriteRecoveryPoints(fs, path, first).ok());
  auto read = ReadRecoveryPoints(fs, path);
  REQUIRE(read.ok());
  CheckSamePoints(*read, first);
  CHECK(testing::ReadFileBytes(path) == EncodeRecoveryPoints(first));

  RecoveryPoints second;
  second[{"other", 4}] = RecoveryPoint{Offset(10), Offset(8), 77};
  REQUIRE(WriteRecoveryPoints(fs, path, second).ok());
  read = ReadRecoveryPoints(fs, path);
  REQUIRE(read.ok());
  CheckSamePoints(*read, second);
  // Replaced, not appended to or merged.
  CHECK(testing::ReadFileBytes(path) == EncodeRecoveryPoints(second));

  auto names = fs->ListDir(dir.path());
  REQUIRE(names.ok());
  CHECK(*names ==
        std::vector<std::string>{std::string(kRecoveryPointFileName)});
}

TEST_CASE("A failed checkpoint write leaves the previous checkpoint intact",
          "[log][checkpoint]") {
  testing::TempDir dir;
  FaultInjectionFileSystem fs(PosixFileSystem());
  const std::string path = dir.Sub(std::string(kRecoveryPointFileName));
  const RecoveryPoints old_points = SamplePoints();
  REQUIRE(WriteRecoveryPoints(&fs, path, old_points).ok());

  RecoveryPoints new_points;
  new_points[{"new", 0}] = RecoveryPoint{Offset(1), Offset(0), 61};
  const size_t new_size = EncodeRecoveryPoints(new_points).size();

  auto check_old_intact = [&] {
    fs.Reset();
    auto read = ReadRecoveryPoints(&fs, path);
    INFO(read.status().ToString());
    REQUIRE(read.ok());
    CheckSamePoints(*read, old_points);
  };
  SECTION("torn write of the new file, then power loss") {
    for (uint64_t cut : {uint64_t{0}, uint64_t{1}, uint64_t{new_size / 2},
                         uint64_t{new_size - 1}}) {
      INFO("torn after " << cut << " bytes");
      fs.TearWriteAfter(cut);
      CHECK_FALSE(WriteRecoveryPoints(&fs, path, new_points).ok());
      REQUIRE(fs.DropUnsyncedData().ok());
      check_old_intact();
    }
  }
  SECTION("fsync failure") {
    fs.SetSyncFails(true);
    CHECK_FALSE(WriteRecoveryPoints(&fs, path, new_points).ok());
    check_old_intact();
  }
  SECTION("disk full") {
    fs.SetDiskFull(true);
    CHECK(WriteRecoveryPoints(&fs, path, new_points).code() ==
          absl::StatusCode::kResourceExhausted);
    check_old_intact();
  }
  SECTION("and a later write succeeds") {
    fs.SetDiskFull(true);
    CHECK_FALSE(WriteRecoveryPoints(&fs, path, new_points).ok());
    fs.Reset();
    REQUIRE(WriteRecoveryPoints(&fs, path, new_points).ok());
    auto read = ReadRecoveryPoints(&fs, path);
    REQUIRE(read.ok());
    CheckSamePoints(*read, new_points);
  }
}

}  // namespace
}  // namespace fjord::log
