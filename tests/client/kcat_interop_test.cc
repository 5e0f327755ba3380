// Interoperability with kcat (librdkafka), both ways: what this client
// produces kcat reads byte for byte, and what kcat produces this client
// reads byte for byte.
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "catch2/catch.hpp"
#include "tests/client/e2e_util.h"

namespace fjord::testing {
namespace {

std::string Kcat(const TestBroker& b) {
  return absl::StrFormat(
      "timeout 60 kcat -b %s -X api.version.request.timeout.ms=5000",
      b.process->bootstrap());
}

// One record of kcat's "-f '%p %o %T %K %S %h\n%k%s\n'" output.
struct KcatRecord {
  int partition;
  int64_t offset, timestamp;
  std::optional<std::string> key, value;
  std::string headers;
};

std::vector<KcatRecord> ParseKcat(const std::string& out) {
  std::vector<KcatRecord> recs;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    REQUIRE(nl != std::string::npos);
    std::string line = out.substr(pos, nl - pos);
    pos = nl + 1;
    KcatRecord r;
    long long klen, vlen;
    char headers[4096] = {0};
    int fields = std::sscanf(line.c_str(), "%d %ld %ld %lld %lld %4095[^\n]",
                             &r.partition, &r.offset, &r.timestamp, &klen,
                             &vlen, headers);
    REQUIRE(fields >= 5);
    r.headers = fields == 6 ? headers : "";
    if (klen >= 0) {
      r.key = out.substr(pos, klen);
      pos += klen;
    }
    if (vlen >= 0) {
      r.value = out.substr(pos, vlen);
      pos += vlen;
    }
    REQUIRE(pos < out.size());
    REQUIRE(out[pos] == '\n');
    pos++;
    recs.push_back(std::move(r));
  }
  return recs;
}

TEST_CASE(
    "Records this client produces read back byte for byte with kcat (-f and "
    "-J)",
    "[client][e2e][kcat]") {
  TestBroker broker;
  auto producer = Producer::Create(
      broker.Producer({{"compression.type", "lz4"}, {"linger.ms", "2"}}));
  REQUIRE(producer.ok());
  std::mt19937 rng(3);
  struct Sent {
    std::optional<std::string> key, value;
    int64_t ts;
  };
  std::vector<Sent> sent;
  const int n = 500;
  for (int i = 0; i < n; i++) {
    Sent s;
    if (i % 5 != 1) {
      s.key = std::string(static_cast<size_t>(rng() % 20), '\0');
      for (auto& c : *s.key) c = static_cast<char>(rng());
    }
    if (i % 9 != 4) {
      s.value = std::string(static_cast<size_t>(rng() % 200), '\0');
      for (auto& c : *s.value) c = static_cast<char>(rng());
    }
    s.ts = 1'650'000'000'000 + i;
    sent.push_back(s);
    Header hs[] = {{"app", "fjord"}, {"n", std::to_string(i)}};
    std::string n_value = std::to_string(i);
    hs[1].value = n_value;
    ProducerRecord r;
    r.topic = "to-kcat";
    if (sent.back().key) r.key = *sent.back().key;
    if (sent.back().value) r.value = *sent.back().value;
    r.headers = hs;
    r.timestamp = s.ts;
    REQUIRE(SendSync(**producer, r).ok());
  }
  std::string out;
  REQUIRE(Run(Kcat(broker) + " -C -t to-kcat -o beginning -e -q -f '%p %o %T "
                             "%K %S %h\\n%k%s\\n'",
              &out) == 0);
  auto got = ParseKcat(out);
  REQUIRE(got.size() == static_cast<size_t>(n));
  for (int i = 0; i < n; i++) {
    INFO("record " << i);
    CHECK(got[i].offset == i);
    CHECK(got[i].timestamp == sent[i].ts);
    CHECK(got[i].key == sent[i].key);
    CHECK(got[i].value == sent[i].value);
    CHECK(got[i].headers == absl::StrFormat("app=fjord,n=%d", i));
  }
  // kcat's JSON for a plain record, compared whole.
  ProducerRecord plain;
  plain.topic = "to-kcat-json";
  plain.key = "k";
  plain.value = "hello";
  Header h[] = {{"a", "1"}};
  plain.headers = h;
  plain.timestamp = 1234567;
  REQUIRE(SendSync(**producer, plain).ok());
  ProducerRecord nulls;
  nulls.topic = "to-kcat-json";
  nulls.timestamp = 1234568;
  REQUIRE(SendSync(**producer, nulls).ok());
  REQUIRE(Run(Kcat(broker) + " -C -t to-kcat-json -o beginning -e -q -J",
              &out) == 0);
  CHECK(out ==
        "{\"topic\":\"to-kcat-json\",\"partition\":0,\"offset\":0,"
        "\"tstype\":\"create\",\"ts\":1234567,\"broker\":0,\"headers\":[\"a\","
        "\"1\"],\"key\":\"k\",\"payload\":\"hello\"}\n"
        "{\"topic\":\"to-kcat-json\",\"partition\":0,\"offset\":1,"
        "\"tstype\":\"create\",\"ts\":1234568,\"broker\":0,\"key\":null,"
        "\"payload\":null}\n");
}

TEST_CASE(
    "Records kcat produces (gzip, snappy, lz4, zstd) read back byte for byte "
    "with this client",
    "[client][e2e][kcat]") {
  TestBroker broker;
  TempDir dir;
  for (const char* codec : {"gzip", "snappy", "lz4", "zstd"}) {
    INFO("kcat -z " << codec);
    const std::string topic = std::string("from-kcat-") + codec;
    // Lines: "key\tvalue"; no tab: a null key; an empty value with -Z: null.
    std::string input;
    for (int i = 0; i < 300; i++) {
      if (i % 10 == 3) {
        input += absl::StrFormat("no-key-%d\n", i);
      } else if (i % 10 == 6) {
        input += absl::StrFormat("key-%d\t\n", i);
      } else {
        input += absl::StrFormat("key-%d\tvalue %d %s\n", i, i,
                                 std::string(i % 50, 'z'));
      }
    }
    std::ofstream(dir.Sub(topic), std::ios::binary) << input;
    const int64_t before = client::internal::WallNowMs();
    REQUIRE(Run(Kcat(broker) +
                absl::StrFormat(" -P -t %s -K '\\t' -Z -z %s -H app=kcat "
                                "-H empty= < %s",
                                topic, codec, dir.Sub(topic))) == 0);
    const int64_t after = client::internal::WallNowMs();
    auto got = ConsumeAll(broker.Consumer(), {{topic, 0}}, 300);
    REQUIRE(got.size() == 300);
    for (int i = 0; i < 300; i++) {
      INFO("record " << i);
      const OwnedRecord& r = got[i];
      CHECK(r.offset == i);
      if (i % 10 == 3) {
        CHECK(!r.key);
        CHECK(r.value == absl::StrFormat("no-key-%d", i));
      } else if (i % 10 == 6) {
        CHECK(r.key == absl::StrFormat("key-%d", i));
        CHECK(!r.value);
      } else {
        CHECK(r.key == absl::StrFormat("key-%d", i));
        CHECK(r.value ==
              absl::StrFormat("value %d %s", i, std::string(i % 50, 'z')));
      }
      REQUIRE(r.headers.size() == 2);
      CHECK(r.headers[0] == OwnedHeader{"app", "kcat"});
      CHECK(r.headers[1].key == "empty");
      CHECK(r.timestamp >= before);
      CHECK(r.timestamp <= after);
    }
  }
}

}  // namespace
}  // namespace fjord::testing
