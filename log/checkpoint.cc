#include "log/checkpoint.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "log/crc32c.h"
#include "log/file_names.h"
#include "log/status_macros.h"
#include "log/strings.h"

namespace fjord::log {
namespace {

// Each row's fields are decimal integers, kept as text so each caller
// parses them with the type it needs.
using Rows = absl::btree_map<TopicPartition, std::vector<std::string>>;

// "fjord <name> 1\n<count>\n<topic> <partition> <field>...\n...crc32c <hex>\n"
std::string EncodeRows(std::string_view name, const Rows& rows) {
  std::string out = absl::StrFormat("fjord %s 1\n%d\n", name, rows.size());
  for (const auto& [tp, fields] : rows) {
    absl::StrAppend(&out, tp.topic, " ", tp.partition);
    for (const auto& f : fields) absl::StrAppend(&out, " ", f);
    out += "\n";
  }
  absl::StrAppend(&out, absl::StrFormat("crc32c %08x\n",
                                        crc32c::Value(out.data(), out.size())));
  return out;
}

absl::StatusOr<Rows> DecodeRows(std::string_view name, size_t nfields,
                                std::string_view input) {
  const absl::string_view text = ToAbsl(input);
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(
        absl::StrFormat("corrupt %s checkpoint: %s", name, ToStd(why)));
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
  if (stored != crc32c::Value(text.data(), crc_at)) return bad("CRC mismatch");
  std::vector<absl::string_view> lines =
      absl::StrSplit(text.substr(0, crc_at), '\n', absl::SkipEmpty());
  if (lines.size() < 2 ||
      lines[0] != absl::StrFormat("fjord %s 1", name)) {
    return bad("bad header");
  }
  size_t count = 0;
  if (!absl::SimpleAtoi(lines[1], &count) || count != lines.size() - 2) {
    return bad("entry count does not match");
  }
  Rows rows;
  for (size_t i = 2; i < lines.size(); i++) {
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ');
    int32_t partition = 0;
    std::vector<std::string> fields;
    bool ok = f.size() == 2 + nfields && IsValidTopicName(ToStd(f[0])) &&
              absl::SimpleAtoi(f[1], &partition);
    for (size_t j = 0; ok && j < nfields; j++) {
      int64_t signed_value;
      uint64_t unsigned_value;
      ok = absl::SimpleAtoi(f[2 + j], &signed_value) ||
           absl::SimpleAtoi(f[2 + j], &unsigned_value);
      fields.emplace_back(f[2 + j]);
    }
    if (!ok) return bad(absl::StrCat("bad line '", lines[i], "'"));
    rows[TopicPartition{std::string(f[0]), partition}] = std::move(fields);
  }
  return rows;
}

constexpr std::string_view kRecoveryPointName = "recovery-point-checkpoint";

}  // namespace

std::string EncodeRecoveryPoints(const RecoveryPoints& points) {
  Rows rows;
  for (const auto& [tp, rp] : points) {
    rows[tp] = {absl::StrCat(rp.offset.value()),
                absl::StrCat(rp.segment_base.value()),
                absl::StrCat(rp.position)};
  }
  return EncodeRows(kRecoveryPointName, rows);
}

absl::StatusOr<RecoveryPoints> DecodeRecoveryPoints(std::string_view text) {
  ASSIGN_OR_RETURN(Rows rows, DecodeRows(kRecoveryPointName, 3, text));
  RecoveryPoints points;
  for (const auto& [tp, f] : rows) {
    int64_t offset, base;
    uint64_t position;
    if (!absl::SimpleAtoi(f[0], &offset) || !absl::SimpleAtoi(f[1], &base) ||
        !absl::SimpleAtoi(f[2], &position)) {
      return absl::DataLossError(absl::StrCat(
          "corrupt recovery-point-checkpoint: bad numbers for ",
          tp.ToString()));
    }
    points[tp] = RecoveryPoint{Offset(offset), Offset(base), position};
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

std::string EncodeOffsets(std::string_view name, const PartitionOffsets& offsets) {
  Rows rows;
  for (const auto& [tp, o] : offsets) rows[tp] = {absl::StrCat(o.value())};
  return EncodeRows(name, rows);
}

absl::StatusOr<PartitionOffsets> DecodeOffsets(std::string_view name,
                                               std::string_view text) {
  ASSIGN_OR_RETURN(Rows rows, DecodeRows(name, 1, text));
  PartitionOffsets out;
  for (const auto& [tp, f] : rows) {
    int64_t v;
    if (!absl::SimpleAtoi(f[0], &v)) {
      return absl::DataLossError(absl::StrFormat(
          "corrupt %s checkpoint: bad offset for %s", name, tp.ToString()));
    }
    out[tp] = Offset(v);
  }
  return out;
}

}  // namespace fjord::log
