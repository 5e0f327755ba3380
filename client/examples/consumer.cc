// A minimal fjord consumer to copy from: reads partition 0 of a topic from
// the beginning and prints each record until no more arrive for a second.
//
//   build/bin/fjord-example-consumer 127.0.0.1:9092 demo
#include "fjord/consumer.h"

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP TOPIC [PARTITION]\n", argv[0]);
    return 2;
  }
  auto consumer = fjord::Consumer::Create({
      {"bootstrap.servers", argv[1]},
      {"client.id", "example-consumer"},
      {"auto.offset.reset", "earliest"},
  });
  if (!consumer.ok()) {
    std::fprintf(stderr, "config: %s\n",
                 std::string(consumer.status().message()).c_str());
    return 1;
  }
  const int partition = argc > 3 ? std::stoi(argv[3]) : 0;
  absl::Status s = (*consumer)->Assign({{argv[2], partition}});
  if (!s.ok()) {
    std::fprintf(stderr, "assign: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  long total = 0;
  for (;;) {
    auto records = (*consumer)->Poll(std::chrono::seconds(1));
    if (!records.ok()) {
      std::fprintf(stderr, "poll: %s\n",
                   std::string(records.status().message()).c_str());
      return 1;
    }
    if (records->empty()) break;  // nothing new for a second
    // Records are views into the fetched bytes: copy what must outlive
    // `records`.
    for (const fjord::ConsumerRecord& r : *records) {
      std::printf("%s-%d@%ld %s=%s\n", std::string(r.topic).c_str(),
                  r.partition, static_cast<long>(r.offset),
                  r.key ? std::string(*r.key).c_str() : "(null)",
                  r.value ? std::string(*r.value).c_str() : "(null)");
      total++;
    }
    if (!records->status().ok()) {
      std::fprintf(stderr, "decode: %s\n",
                   std::string(records->status().message()).c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "%ld records\n", total);
  return 0;
}
