// `fjord segment dump|verify` and `fjord storage-demo`: commands on local
// files that need no broker.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "log/file_names.h"
#include "log/record_batch.h"
#include "tools/commands.h"
#include "tools/record_format.h"
#include "tools/segment_inspector.h"
#include "tools/storage_demo.h"

namespace fjord::tools {

namespace {

struct SegmentOptions {
  std::vector<std::string> paths;
  bool records = false;
  std::string format = "text";
  bool base64 = false;
};

const char* TimestampType(const log::BatchHeader& h) {
  return (h.attributes & log::batch_layout::kTimestampTypeBit) ? "LogAppendTime"
                                                               : "CreateTime";
}

// The topic and partition of a file in a partition directory, if its
// directory is named like one.
std::optional<TopicPartition> PartitionOf(const std::string& file) {
  return log::ParsePartitionDirName(
      std::filesystem::path(file).parent_path().filename().string());
}

void AppendSegmentSummaryJson(const SegmentCheck& c, std::string* out) {
  out->append("{\"type\":\"segment\",\"file\":");
  AppendJsonString(c.path, out);
  fmt::format_to(std::back_inserter(*out),
                 ",\"batches\":{},\"records\":{},\"first_offset\":{},"
                 "\"last_offset\":{},\"file_bytes\":{},\"data_bytes\":{},"
                 "\"preallocated_bytes\":{},\"ok\":{},\"problems\":[",
                 c.batches, c.records, c.first_offset, c.last_offset,
                 c.file_bytes, c.data_bytes, c.zero_tail_bytes,
                 c.problems.empty());
  for (size_t i = 0; i < c.problems.size(); i++) {
    if (i > 0) out->push_back(',');
    AppendJsonString(c.problems[i], out);
  }
  out->append("]}");
}

void AppendSnapshotJson(const SnapshotInfo& s, bool producers,
                        std::string* out) {
  out->append("{\"type\":\"snapshot\",\"file\":");
  AppendJsonString(s.path, out);
  fmt::format_to(std::back_inserter(*out),
                 ",\"file_bytes\":{},\"end_offset\":{},\"forgotten_id\":{},"
                 "\"producer_count\":{},\"ok\":{},\"problems\":[",
                 s.file_bytes, s.end_offset, s.forgotten_id, s.producers.size(),
                 s.problem.empty());
  if (!s.problem.empty()) AppendJsonString(s.problem, out);
  out->push_back(']');
  if (producers) {
    out->append(",\"producers\":[");
    for (size_t i = 0; i < s.producers.size(); i++) {
      const auto& p = s.producers[i];
      if (i > 0) out->push_back(',');
      fmt::format_to(std::back_inserter(*out),
                     "{{\"producer_id\":{},\"epoch\":{},\"last_append_ms\":{},"
                     "\"batches\":[",
                     p.id.value(), p.epoch.value(), p.last_append_ms);
      for (size_t j = 0; j < p.batches.size(); j++) {
        const auto& b = p.batches[j];
        fmt::format_to(std::back_inserter(*out),
                       "{}{{\"first_sequence\":{},\"last_sequence\":{},"
                       "\"first_offset\":{},\"last_offset\":{}}}",
                       j > 0 ? "," : "", b.first_sequence, b.last_sequence,
                       b.first_offset.value(), b.last_offset.value());
      }
      out->append("]}");
    }
    out->push_back(']');
  }
  out->push_back('}');
}

std::string SegmentSummaryText(const SegmentCheck& c) {
  return fmt::format(
      "{}: {} batches, {} records, offsets {}..{}, {} data bytes{}: {}", c.path,
      c.batches, c.records, c.first_offset, c.last_offset, c.data_bytes,
      c.zero_tail_bytes ? fmt::format(" (+{} preallocated)", c.zero_tail_bytes)
                        : "",
      c.problems.empty() ? "OK" : "CORRUPT");
}

std::string SnapshotSummaryText(const SnapshotInfo& s) {
  if (s.end_offset < 0) return fmt::format("{}: snapshot: CORRUPT", s.path);
  return fmt::format(
      "{}: producer-state snapshot at log end {}, {} producers, forgotten "
      "ids up to {}: {}",
      s.path, s.end_offset, s.producers.size(), s.forgotten_id,
      s.problem.empty() ? "OK" : "CORRUPT");
}

// Prints one batch (and its records) of `segment dump`.
void DumpBatch(const InspectedBatch& b, const std::string& file,
               const SegmentOptions& o, bool json,
               const std::optional<TopicPartition>& tp, std::string* scratch,
               std::vector<log::Record>* records,
               std::vector<std::string>* problems) {
  const log::BatchHeader& h = b.header;
  std::string out;
  std::string decode_error;
  records->clear();
  if (o.records && b.crc_ok) {
    absl::Status s = log::DecodeRecords(b.bytes, scratch, records);
    if (!s.ok()) {
      decode_error = std::string(s.message());
      problems->push_back(
          fmt::format("{}: byte {}: {}", file, b.position, decode_error));
    }
  }
  if (json) {
    out.append("{\"type\":\"batch\",\"file\":");
    AppendJsonString(file, &out);
    fmt::format_to(
        std::back_inserter(out),
        ",\"position\":{},\"base_offset\":{},\"last_offset\":{},"
        "\"record_count\":{},\"size\":{},\"codec\":\"{}\","
        "\"timestamp_type\":\"{}\",\"base_timestamp\":{},\"max_timestamp\":{},"
        "\"producer_id\":{},\"producer_epoch\":{},\"base_sequence\":{},"
        "\"partition_leader_epoch\":{},\"transactional\":{},\"control\":{},"
        "\"crc\":\"{:08x}\",\"crc_ok\":{}",
        b.position, h.base_offset, h.last().value(), h.record_count,
        h.size_bytes(), log::CodecName(h.codec()), TimestampType(h),
        h.base_timestamp, h.max_timestamp, h.producer_id, h.producer_epoch,
        h.base_sequence, h.partition_leader_epoch, h.is_transactional(),
        h.is_control(), h.crc, b.crc_ok);
    if (o.records) {
      out.append(",\"records\":[");
      bool first = true;
      for (const auto& r : *records) {
        if (!first) out.push_back(',');
        first = false;
        RecordView v;
        if (tp) {
          v.topic = tp->topic;
          v.partition = tp->partition;
        }
        v.offset = r.offset.value();
        v.timestamp = r.timestamp;
        v.log_append_time = h.attributes & log::batch_layout::kTimestampTypeBit;
        v.key = r.key;
        v.value = r.value;
        v.headers = r.headers;
        AppendRecordJson(v, o.base64, &out);
      }
      out.push_back(']');
      if (!decode_error.empty()) {
        out.append(",\"records_error\":");
        AppendJsonString(decode_error, &out);
      }
    }
    out.append("}\n");
  } else {
    fmt::format_to(
        std::back_inserter(out),
        "batch position={} base_offset={} last_offset={} count={} size={} "
        "codec={} ts_type={} base_ts={} max_ts={} producer_id={} epoch={} "
        "base_seq={} crc={:08x} crc_status={}\n",
        b.position, h.base_offset, h.last().value(), h.record_count,
        h.size_bytes(), log::CodecName(h.codec()), TimestampType(h),
        h.base_timestamp, h.max_timestamp, h.producer_id, h.producer_epoch,
        h.base_sequence, h.crc,
        b.crc_ok ? "ok"
                 : fmt::format("MISMATCH(computed {:08x})", b.computed_crc));
    if (o.records && !b.crc_ok) {
      out.append("  (records not decoded: the CRC does not match)\n");
    }
    for (const auto& r : *records) {
      std::string headers;
      for (const auto& hd : r.headers) {
        headers += fmt::format(
            "{}{:?}={}", headers.empty() ? "" : ",", std::string(hd.key),
            hd.value ? fmt::format("{:?}", std::string(*hd.value)) : "null");
      }
      fmt::format_to(
          std::back_inserter(out),
          "  offset={} timestamp={} key={} value={} headers=[{}]\n",
          r.offset.value(), r.timestamp,
          r.key ? fmt::format("{:?}", std::string(*r.key)) : "null",
          r.value ? fmt::format("{:?}", std::string(*r.value)) : "null",
          headers);
    }
    if (!decode_error.empty()) {
      out += fmt::format("  records do not decode: {}\n", decode_error);
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

int RunSegment(const SegmentOptions& o, bool dump) {
  const char* command = dump ? "segment dump" : "segment verify";
  auto format = ParseOutputFormat(o.format);
  if (!format.ok()) return UsageError(command, format.status());
  const bool json = *format == OutputFormat::kJson;
  std::vector<std::string> files;
  for (const auto& path : o.paths) {
    auto found = SegmentFiles(path);
    if (!found.ok()) return UsageError(command, found.status());
    files.insert(files.end(), found->begin(), found->end());
  }
  int bad = 0;
  std::string verify_json = "{\"files\":[";
  std::string scratch;
  std::vector<log::Record> records;
  for (size_t i = 0; i < files.size(); i++) {
    const std::string& file = files[i];
    std::string entry;
    if (IsSnapshotFile(file)) {
      auto snap = InspectSnapshot(file);
      if (!snap.ok()) return Fail(command, snap.status());
      if (!snap->problem.empty()) bad++;
      if (json) {
        AppendSnapshotJson(*snap, dump, &entry);
      } else {
        entry = SnapshotSummaryText(*snap) + "\n";
        if (!snap->problem.empty()) {
          entry += fmt::format("  problem: {}\n", snap->problem);
        }
        if (dump) {
          for (const auto& p : snap->producers) {
            entry += fmt::format(
                "  producer_id={} epoch={} last_append={} ({}) batches={}\n",
                p.id.value(), p.epoch.value(),
                FormatTimestamp(p.last_append_ms), p.last_append_ms,
                p.batches.size());
            for (const auto& b : p.batches) {
              entry +=
                  fmt::format("    sequences {}..{} offsets {}..{}\n",
                              b.first_sequence, b.last_sequence,
                              b.first_offset.value(), b.last_offset.value());
            }
          }
        }
      }
    } else {
      const auto tp = PartitionOf(file);
      std::vector<std::string> decode_problems;
      std::function<void(const InspectedBatch&)> on_batch;
      if (dump) {
        on_batch = [&](const InspectedBatch& b) {
          DumpBatch(b, file, o, json, tp, &scratch, &records, &decode_problems);
        };
      }
      auto check = InspectSegment(file, on_batch);
      if (!check.ok()) return UsageError(command, check.status());
      check->problems.insert(check->problems.end(), decode_problems.begin(),
                             decode_problems.end());
      if (!check->problems.empty()) bad++;
      if (json) {
        AppendSegmentSummaryJson(*check, &entry);
      } else {
        entry = SegmentSummaryText(*check) + "\n";
        for (const auto& p : check->problems) {
          entry += fmt::format("  problem: {}\n", p);
        }
      }
    }
    if (json && !dump) {
      verify_json += (i > 0 ? "," : "") + entry;
    } else {
      if (json) entry += "\n";
      std::fwrite(entry.data(), 1, entry.size(), stdout);
    }
  }
  if (json && !dump) {
    verify_json += fmt::format("],\"ok\":{}}}\n", bad == 0);
    std::fwrite(verify_json.data(), 1, verify_json.size(), stdout);
  }
  std::fflush(stdout);
  return bad == 0 ? kExitOk : kExitFailed;
}

}  // namespace

void AddSegmentCommands(CLI::App* app, Action* action) {
  auto* segment = app->add_subcommand(
      "segment", "Inspect segment and snapshot files on disk (read-only)");
  segment->require_subcommand(1);
  SetExample(segment, "fjord segment verify ./fjord-data/orders-0");

  auto dump_opts = std::make_shared<SegmentOptions>();
  auto* dump = segment->add_subcommand(
      "dump",
      "Print every batch of segment .log files (offsets, timestamps, "
      "producer ids, record counts, CRC status) and the producers of "
      ".snapshot files; exit 1 if anything is corrupt");
  dump->add_option("paths", dump_opts->paths,
                   "Segment .log or .snapshot files, or partition directories")
      ->required();
  dump->add_flag("--records", dump_opts->records, "Also print each record");
  dump->add_option("--format", dump_opts->format,
                   "text, or json: one object per line per batch "
                   "(\"type\":\"batch\") and per file (\"segment\", "
                   "\"snapshot\")")
      ->capture_default_str();
  dump->add_flag("--base64", dump_opts->base64,
                 "JSON: keys, values and headers always as *_base64 "
                 "(otherwise only when they are not UTF-8)");
  SetExample(dump,
             "fjord segment dump --records "
             "./fjord-data/orders-0/00000000000000000000.log\n"
             "  fjord segment dump "
             "./fjord-data/orders-0/00000000000000001000.snapshot");
  dump->callback(
      [=] { *action = [=] { return RunSegment(*dump_opts, true); }; });

  auto verify_opts = std::make_shared<SegmentOptions>();
  auto* verify = segment->add_subcommand(
      "verify",
      "Check framing, CRCs, offset order, both indexes and snapshots; exit 0 "
      "only if everything is sound, 1 if anything is corrupt");
  verify
      ->add_option("paths", verify_opts->paths,
                   "Segment .log or .snapshot files, or partition "
                   "directories")
      ->required();
  verify
      ->add_option("--format", verify_opts->format,
                   "text, or json: one document {\"files\":[...],\"ok\":..}")
      ->capture_default_str();
  SetExample(verify, "fjord segment verify ./fjord-data/orders-0");
  verify->callback(
      [=] { *action = [=] { return RunSegment(*verify_opts, false); }; });

  auto demo = std::make_shared<StorageDemoOptions>();
  auto* demo_cmd = app->add_subcommand(
      "storage-demo",
      "Append records to a local log, restart it, and verify every record");
  demo_cmd->add_option("--data-dir", demo->data_dir, "Data directory")
      ->capture_default_str();
  demo_cmd->add_option("--topic", demo->topic, "Topic name")
      ->capture_default_str();
  demo_cmd->add_option("--records", demo->records, "Records to append")
      ->capture_default_str();
  demo_cmd
      ->add_option("--record-size", demo->record_size, "Value bytes per record")
      ->capture_default_str();
  demo_cmd
      ->add_option("--batch-records", demo->batch_records, "Records per batch")
      ->capture_default_str();
  demo_cmd
      ->add_option("--compression", demo->compression,
                   "none, gzip, snappy, lz4 or zstd")
      ->capture_default_str();
  SetExample(demo_cmd,
             "fjord storage-demo --data-dir /tmp/demo --records 100000 "
             "--compression zstd");
  demo_cmd->callback([=] { *action = [=] { return RunStorageDemo(*demo); }; });
}

}  // namespace fjord::tools
