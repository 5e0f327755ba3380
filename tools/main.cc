// build/bin/fjord: the fjord command-line tool.
#include <iostream>

#include "CLI/CLI.hpp"
#include "fmt/format.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"
#include "tools/segment_inspector.h"
#include "tools/storage_demo.h"

namespace {

int RunSegment(const std::vector<std::string>& paths, bool dump, bool records) {
  int bad = 0;
  for (const auto& path : paths) {
    auto files = fjord::tools::SegmentFiles(path);
    if (!files.ok()) {
      fmt::print(stderr, "fjord: {}\n", files.status().message());
      return 2;
    }
    for (const auto& file : *files) {
      auto check = fjord::tools::InspectSegment(file, dump, records, std::cout);
      if (!check.ok()) {
        fmt::print(stderr, "fjord: {}\n", check.status().message());
        return 2;
      }
      if (!check->problems.empty()) bad++;
      fmt::print("{}: {} batches, {} records, offsets {}..{}, {} data bytes"
                 "{}: {}\n",
                 file, check->batches, check->records, check->first_offset,
                 check->last_offset, check->data_bytes,
                 check->zero_tail_bytes
                     ? fmt::format(" (+{} preallocated)", check->zero_tail_bytes)
                     : "",
                 check->problems.empty() ? "OK" : "CORRUPT");
      for (const auto& p : check->problems) fmt::print("  problem: {}\n", p);
    }
  }
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fjord: a partitioned, append-only event log"};
  app.require_subcommand(1);

  auto* segment = app.add_subcommand(
      "segment", "Inspect segment files on disk (read-only)");
  segment->require_subcommand(1);
  std::vector<std::string> paths;
  bool records = false;
  auto* dump = segment->add_subcommand(
      "dump", "Print every batch (and with --records every record)");
  dump->add_option("paths", paths, "Segment .log files or partition directories")
      ->required();
  dump->add_flag("--records", records, "Also print each record");
  auto* verify = segment->add_subcommand(
      "verify",
      "Check CRCs, offsets and indexes; exit 1 if anything is corrupt");
  verify->add_option("paths", paths, "Segment .log files or partition directories")
      ->required();

  fjord::tools::StorageDemoOptions demo;
  auto* demo_cmd = app.add_subcommand(
      "storage-demo",
      "Append records to a local log, restart it, and verify every record");
  demo_cmd->add_option("--data-dir", demo.data_dir, "Data directory")
      ->capture_default_str();
  demo_cmd->add_option("--topic", demo.topic, "Topic name")->capture_default_str();
  demo_cmd->add_option("--records", demo.records, "Records to append")
      ->capture_default_str();
  demo_cmd->add_option("--record-size", demo.record_size, "Value bytes per record")
      ->capture_default_str();
  demo_cmd->add_option("--batch-records", demo.batch_records, "Records per batch")
      ->capture_default_str();
  demo_cmd->add_option("--compression", demo.compression,
                       "none, gzip, snappy, lz4 or zstd")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  if (dump->parsed()) return RunSegment(paths, true, records);
  if (verify->parsed()) return RunSegment(paths, false, false);
  if (demo_cmd->parsed()) return fjord::tools::RunStorageDemo(demo);
  return 2;
}
