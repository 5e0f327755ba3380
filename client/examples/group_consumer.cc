// A consumer-group member to copy from: joins GROUP, consumes the
// partitions of TOPIC(s) it is given, prints every record, commits what it
// printed (enable.auto.commit: every auto.commit.interval.ms, when a
// partition is taken away, and at the end), and on SIGINT or SIGTERM closes
// cleanly: revokes its partitions, commits, leaves the group. Extra
// arguments are consumer properties.
//
//   build/bin/fjord-example-group-consumer 127.0.0.1:9092 my-group demo
//   build/bin/fjord-example-group-consumer 127.0.0.1:9092 my-group demo
//       group.instance.id=worker-1 session.timeout.ms=10000   (one line)
//
// Start several: the group's partitions are spread over them, and move
// (only those that must) when one comes or goes. Output, one line each:
//   assigned demo-0 demo-3      revoked demo-3      lost demo-0
//   record demo-0 17 <value>    closed
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "fjord/consumer.h"

namespace {

volatile std::sig_atomic_t stop = 0;

void Print(const char* what, const std::vector<fjord::TopicPartition>& tps) {
  std::string line = what;
  for (const auto& tp : tps) line += " " + tp.ToString();
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Called inside Poll (and Close), on main's thread.
class Listener : public fjord::RebalanceListener {
 public:
  void OnPartitionsAssigned(
      const std::vector<fjord::TopicPartition>& partitions) override {
    Print("assigned", partitions);
  }
  void OnPartitionsRevoked(
      const std::vector<fjord::TopicPartition>& partitions) override {
    // With enable.auto.commit the consumer commits these partitions'
    // positions right after this returns. Without it, commit here what was
    // processed.
    Print("revoked", partitions);
  }
  void OnPartitionsLost(
      const std::vector<fjord::TopicPartition>& partitions) override {
    // Not ours any more, possibly someone else's already: nothing to commit.
    Print("lost", partitions);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: %s BOOTSTRAP GROUP TOPIC[,TOPIC...] [key=value...]\n",
                 argv[0]);
    return 2;
  }
  fjord::Properties props = {
      {"bootstrap.servers", argv[1]},
      {"group.id", argv[2]},
      {"client.id", "example-group-consumer"},
      {"auto.offset.reset", "earliest"},
  };
  for (int i = 4; i < argc; i++) {
    std::string kv = argv[i];
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "expected key=value, got '%s'\n", argv[i]);
      return 2;
    }
    props[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto consumer = fjord::Consumer::Create(props);
  if (!consumer.ok()) {
    std::fprintf(stderr, "config: %s\n",
                 std::string(consumer.status().message()).c_str());
    return 1;
  }
  std::signal(SIGINT, [](int) { stop = 1; });
  std::signal(SIGTERM, [](int) { stop = 1; });

  Listener listener;  // declared before use; outlives the subscription
  std::vector<std::string> topics = absl::StrSplit(argv[3], ',');
  if (absl::Status s = (*consumer)->Subscribe(topics, &listener); !s.ok()) {
    std::fprintf(stderr, "subscribe: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  while (!stop) {
    auto records = (*consumer)->Poll(std::chrono::milliseconds(200));
    if (!records.ok()) {
      std::fprintf(stderr, "poll: %s\n",
                   std::string(records.status().message()).c_str());
      // kUnavailable: the coordinator has not answered for
      // session.timeout.ms; the consumer keeps trying to rejoin (a real
      // application might alert). Anything else will not get better.
      if (absl::IsUnavailable(records.status())) continue;
      (*consumer)->Close();
      return 1;
    }
    for (const fjord::ConsumerRecord& r : *records) {
      std::printf("record %s-%d %ld %s\n", std::string(r.topic).c_str(),
                  r.partition, static_cast<long>(r.offset),
                  r.value ? std::string(*r.value).c_str() : "(null)");
    }
    std::fflush(stdout);
  }
  // Revokes (the listener prints), commits, leaves the group.
  (*consumer)->Close();
  std::printf("closed\n");
  return 0;
}
