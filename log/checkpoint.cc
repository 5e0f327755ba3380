#include "log/checkpoint.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "log/strings.h"
#include "absl/strings/str_split.h"
#include "log/crc32c.h"
#include "log/file_names.h"
#include "log/status_macros.h"

namespace fjord::log {
namespace {
constexpr absl::string_view kHeader = "fjord recovery-point-checkpoint 1";
}

std::string EncodeRecoveryPoints(const RecoveryPoints& points) {
  std::string out = absl::StrCat(kHeader, "\n", points.size(), "\n");
  for (const auto& [tp, rp] : points) {
    absl::StrAppend(&out, tp.topic, " ", tp.partition, " ", rp.offset.value(),
                    " ", rp.segment_base.value(), " ", rp.position, "\n");
  }
  absl::StrAppend(&out, absl::StrFormat("crc32c %08x\n", crc32c::Value(out.data(), out.size())));
  return out;
}

absl::StatusOr<RecoveryPoints> DecodeRecoveryPoints(std::string_view input) {
  const absl::string_view text = ToAbsl(input);
  auto bad = [](absl::string_view why) {
    return absl::DataLossError(
        absl::StrCat("corrupt recovery-point checkpoint: ", why));
  };
  size_t crc_at = text.rfind("crc32c ");
  if (crc_at == absl::string_view::npos) return bad("no crc32c line");
  absl::string_view crc_line = text.substr(crc_at + 7);
  if (!crc_line.empty() && crc_line.back() == '\n') crc_line.remove_suffix(1);
  uint32_t stored = 0;
  const bool hex8 =
      crc_line.size() == 8 &&
      std::all_of(crc_line.begin(), crc_line.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
      });
  if (!hex8 || !absl::SimpleHexAtoi(crc_line, &stored)) {
    return bad("bad crc32c line");
  }
  if (stored != crc32c::Value(text.data(), crc_at)) {
    return bad("CRC mismatch");
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(text.substr(0, crc_at), '\n', absl::SkipEmpty());
  if (lines.size() < 2 || lines[0] != kHeader) return bad("bad header");
  size_t count = 0;
  if (!absl::SimpleAtoi(lines[1], &count) || count != lines.size() - 2) {
    return bad("entry count does not match");
  }
  RecoveryPoints points;
  for (size_t i = 2; i < lines.size(); i++) {
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ');
    int32_t partition;
    int64_t offset, base;
    uint64_t position;
    if (f.size() != 5 || !IsValidTopicName(ToStd(f[0])) ||
        !absl::SimpleAtoi(f[1], &partition) ||
        !absl::SimpleAtoi(f[2], &offset) || !absl::SimpleAtoi(f[3], &base) ||
        !absl::SimpleAtoi(f[4], &position)) {
      return bad(absl::StrCat("bad line '", lines[i], "'"));
    }
    points[TopicPartition{std::string(f[0]), partition}] =
        RecoveryPoint{Offset(offset), Offset(base), position};
  }
  return points;
}

absl::Status WriteRecoveryPoints(FileSystem* fs, const std::string& path,
                                 const RecoveryPoints& points) {
  return fs->WriteFileAtomically(path, EncodeRecoveryPoints(points));
}

absl::StatusOr<RecoveryPoints> ReadRecoveryPoints(FileSystem* fs,
                                                  const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  return DecodeRecoveryPoints(text);
}

}  // namespace fjord::log
