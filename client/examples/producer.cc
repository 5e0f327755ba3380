// A minimal fjord producer to copy from: sends N keyed records to a topic
// with delivery callbacks, then flushes and reports what happened.
//
//   build/bin/fjord-example-producer 127.0.0.1:9092 demo 1000
#include "fjord/producer.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP TOPIC [COUNT]\n", argv[0]);
    return 2;
  }
  const int count = argc > 3 ? std::atoi(argv[3]) : 10;
  auto producer = fjord::Producer::Create({
      {"bootstrap.servers", argv[1]},
      {"client.id", "example-producer"},
      {"linger.ms", "5"},
      {"compression.type", "lz4"},
  });
  if (!producer.ok()) {
    std::fprintf(stderr, "config: %s\n",
                 std::string(producer.status().message()).c_str());
    return 1;
  }
  std::atomic<int> delivered{0}, failed{0};
  for (int i = 0; i < count; i++) {
    std::string key = "key-" + std::to_string(i);
    std::string value = "value-" + std::to_string(i);
    fjord::Header headers[] = {{"source", "example"}};
    fjord::ProducerRecord record;
    record.topic = argv[2];
    record.key = key;
    record.value = value;
    record.headers = headers;
    // The callback runs on the producer's network thread: keep it short.
    (*producer)->Send(
        record, [&](const absl::Status& s, const fjord::RecordMetadata& md) {
          if (s.ok()) {
            delivered++;
          } else if (failed++ == 0) {
            std::fprintf(stderr, "not delivered: %s\n",
                         std::string(s.message()).c_str());
          }
        });
  }
  // Waits until every record above has been delivered or has failed.
  if (absl::Status s = (*producer)->Flush(); !s.ok()) {
    std::fprintf(stderr, "flush: %s\n", std::string(s.message()).c_str());
  }
  std::printf("%d delivered, %d failed\n", delivered.load(), failed.load());
  return failed.load() == 0 ? 0 : 1;
}
