// The idempotent producer's retry logic against a scripted fake broker
// that speaks just enough Kafka (ApiVersions, Metadata, InitProducerId,
// Produce), so answers real brokers give rarely (OUT_OF_ORDER_SEQUENCE,
// UNKNOWN_PRODUCER_ID, dropped connections) can be given on purpose, and
// every batch the producer sends is recorded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "broker/kafka/errors.h"
#include "broker/kafka/messages.h"
#include "catch2/catch.hpp"
#include "fjord/producer.h"
#include "log/record_batch.h"
#include "tests/util/test_util.h"

namespace fjord::testing {
namespace {

namespace kafka = broker::kafka;

struct SeenBatch {
  std::string topic;
  int64_t producer_id;
  int16_t epoch;
  int32_t base_sequence;
  int32_t records;
  uint32_t crc;
  int16_t answer;  // what the fake broker replied (-100: dropped)
};

// What to do with a produce batch: a Kafka error code to answer, or
// kDrop to close the connection without answering.
constexpr int16_t kDrop = -100;
// Append the batch, then close the connection before answering: the
// producer cannot know it was appended.
constexpr int16_t kAppendThenDrop = -101;
// Append the batch, send the first half of the answer, and then nothing
// more on that connection, which stays open (a broker host that hangs).
constexpr int16_t kAppendThenStall = -102;

// How answers are written: each in one write; a byte per write (so the
// client's reads split size fields and bodies); or held while more
// requests arrive within a few milliseconds, then several in one write.
enum class AnswerShape { kWhole, kByteByByte, kCoalesced };

class FakeBroker {
 public:
  // decide(batch, index of this batch among all received) -> error or kDrop
  using Decide = std::function<int16_t(const SeenBatch&, int)>;

  // With `nodes` > 1 the metadata names that many brokers, all at this
  // address, and topic "u" is led by node 1 (every other topic by node 0):
  // the producer then keeps one connection per node, so one partition's
  // connection can be dropped while another's answers.
  explicit FakeBroker(Decide decide, int nodes = 1)
      : decide_(std::move(decide)), nodes_(nodes) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr),
                   sizeof(addr)) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~FakeBroker() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    {
      std::lock_guard<std::mutex> l(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : connections_) t.join();
    for (int fd : fds_) ::close(fd);
  }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenBatch> seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }
  // How many distinct batches (topic, producer id, base sequence) were
  // appended.
  size_t appended() {
    std::lock_guard<std::mutex> l(mu_);
    return appended_.size();
  }
  // Records appended to `topic`, counting every append (a batch appended
  // twice under two producer ids counts twice).
  int64_t records_appended(const std::string& topic) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = records_appended_.find(topic);
    return it == records_appended_.end() ? 0 : it->second;
  }
  int init_producer_id_calls() const { return pid_calls_.load(); }
  // Before the producer connects.
  void SetAnswerShape(AnswerShape shape) { shape_ = shape; }
  // Writes that carried more than one answer (kCoalesced).
  int coalesced_writes() const { return coalesced_writes_.load(); }

 private:
  void Accept() {
    for (;;) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      if (stopping_) {
        ::close(fd);
        return;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      std::lock_guard<std::mutex> l(mu_);
      fds_.push_back(fd);
      connections_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  static bool ReadFull(int fd, void* buf, size_t n) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
      ssize_t r = ::read(fd, p, n);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  }

  static bool SendAll(int fd, const std::string& bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Writes `bytes` (one answer) as shape_ says; false if the peer is gone.
  bool Answer(int fd, const std::string& bytes, std::string* held,
              int* held_count) {
    switch (shape_) {
      case AnswerShape::kWhole:
        return SendAll(fd, bytes);
      case AnswerShape::kByteByByte:
        for (char c : bytes) {
          if (!SendAll(fd, std::string(1, c))) return false;
        }
        return true;
      case AnswerShape::kCoalesced: {
        held->append(bytes);
        ++*held_count;
        pollfd pfd{fd, POLLIN, 0};
        if (*held_count < 8 && ::poll(&pfd, 1, 5) == 1) return true;
        if (*held_count > 1) coalesced_writes_++;
        const bool ok = SendAll(fd, *held);
        held->clear();
        *held_count = 0;
        return ok;
      }
    }
    return false;
  }

  void Serve(int fd) {
    bool stalled = false;
    std::string held;  // kCoalesced: answers not written yet
    int held_count = 0;
    for (;;) {
      uint8_t size_bytes[4];
      if (!ReadFull(fd, size_bytes, 4)) return;
      const int32_t size = log::internal::LoadBE<int32_t>(size_bytes);
      std::vector<uint8_t> frame(static_cast<size_t>(size));
      if (!ReadFull(fd, frame.data(), frame.size())) return;
      kafka::Reader r(frame);
      kafka::RequestHeader h;
      if (!kafka::DecodeRequestHeader(r, &h)) return;
      kafka::ResponseFrame out(h.correlation_id);
      bool drop = false;
      bool stall = false;
      switch (h.api_key) {
        case kafka::kApiVersions:
          kafka::EncodeApiVersionsResponse(out, h.api_version);
          break;
        case kafka::kMetadata: {
          kafka::MetadataRequest req;
          if (!kafka::Decode(r, h.api_version, &req)) return;
          kafka::MetadataResponse m;
          for (int node = 0; node < nodes_; node++) {
            m.brokers.push_back({node, "127.0.0.1", port_});
          }
          m.cluster_id = "fake";
          if (req.topics) {
            for (auto t : *req.topics) {
              const int32_t leader = nodes_ > 1 && t == "u" ? 1 : 0;
              m.topics.push_back({0,
                                  std::string(t),
                                  false,
                                  {{0, 0, leader, {leader}, {leader}}}});
            }
          }
          kafka::Encode(out, h.api_version, m);
          break;
        }
        case kafka::kInitProducerId: {
          kafka::InitProducerIdResponse resp{0, 1000 + pid_calls_++, 0};
          kafka::Encode(out, h.api_version, resp);
          break;
        }
        case kafka::kProduce:
          drop = !Produce(r, h, out, &stall);
          break;
        default:
          return;
      }
      if (drop) {
        ::shutdown(fd, SHUT_RDWR);
        return;
      }
      if (stalled) continue;  // reads on, answers nothing
      std::string bytes;
      for (auto piece : out.Finish()) {
        bytes.append(reinterpret_cast<const char*>(piece.data()), piece.size());
      }
      if (stall) {
        bytes.resize(bytes.size() / 2);
        stalled = true;
      }
      if (!Answer(fd, bytes, &held, &held_count)) return;
    }
  }

  // False: drop the connection. *stall: send half the answer, then hang.
  bool Produce(kafka::Reader& r, const kafka::RequestHeader& h,
               kafka::ResponseFrame& out, bool* stall) {
    kafka::ProduceRequest req;
    if (!kafka::Decode(r, h.api_version, &req)) return false;
    kafka::ProduceResponse resp;
    std::lock_guard<std::mutex> l(mu_);
    for (auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = std::string(t.name);
      for (auto& p : t.partitions) {
        // (Catch assertions are not for other threads: a bad batch shows as
        // a dropped connection and failed deliveries.)
        auto hdr = log::ValidateBatch(*p.records);
        if (!hdr.ok()) return false;
        SeenBatch b{std::string(t.name),
                    hdr->producer_id,
                    hdr->producer_epoch,
                    hdr->base_sequence,
                    hdr->record_count,
                    hdr->crc,
                    0};
        b.answer = decide_(b, static_cast<int>(seen_.size()));
        seen_.push_back(b);
        if (b.answer == kDrop) return false;
        if (b.answer == kAppendThenStall) *stall = true;
        const bool drop_after = b.answer == kAppendThenDrop;
        auto& rp = rt.partitions.emplace_back();
        rp.index = p.index;
        rp.error = drop_after || *stall ? 0 : b.answer;
        if (rp.error != 0) continue;
        // Kafka's de-duplication: a batch already appended is answered
        // with its original offset; otherwise it must continue the
        // producer's sequence.
        if (b.producer_id < 0) {  // not idempotent: no checks
          rp.base_offset = log_end_;
          log_end_ += b.records;
          records_appended_[b.topic] += b.records;
          continue;
        }
        auto key = std::make_tuple(b.topic, b.producer_id, b.base_sequence);
        auto it = appended_.find(key);
        if (it != appended_.end()) {
          rp.base_offset = it->second;
          continue;
        }
        int32_t& next = next_seq_[std::make_pair(b.topic, b.producer_id)];
        if (b.base_sequence != next) {
          rp.error = 45;  // OUT_OF_ORDER_SEQUENCE_NUMBER
          seen_.back().answer = 45;
          continue;
        }
        next += b.records;
        rp.base_offset = log_end_;
        appended_[key] = log_end_;
        log_end_ += b.records;
        records_appended_[b.topic] += b.records;
        if (drop_after) return false;
      }
    }
    kafka::Encode(out, h.api_version, resp);
    return true;
  }

  Decide decide_;
  const int nodes_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> connections_;
  std::vector<SeenBatch> seen_;
  // Per partition (one per topic here), as Kafka's sequences are.
  std::map<std::tuple<std::string, int64_t, int32_t>, int64_t> appended_;
  std::map<std::pair<std::string, int64_t>, int32_t> next_seq_;
  std::map<std::string, int64_t> records_appended_;
  int64_t log_end_ = 0;
  std::atomic<int> pid_calls_{0};
  AnswerShape shape_ = AnswerShape::kWhole;
  std::atomic<int> coalesced_writes_{0};
};

struct Outcome {
  std::mutex mu;
  std::vector<int64_t> offsets;  // in callback order
  int failed = 0;
};

// Sends `n` records of ~100 bytes in batches of about `per_batch`, then
// flushes.
void ProduceAll(FakeBroker& broker, int n, Outcome* out,
                Properties extra = {}) {
  Properties p = {{"bootstrap.servers", broker.bootstrap()},
                  {"batch.size", "1000"},
                  {"linger.ms", "0"},
                  {"retry.backoff.ms", "10"},
                  {"request.timeout.ms", "2000"},
                  {"delivery.timeout.ms", "10000"}};
  for (auto& [k, v] : extra) p[k] = v;
  auto producer = Producer::Create(p);
  REQUIRE(producer.ok());
  std::string value(100, 'v');
  for (int i = 0; i < n; i++) {
    ProducerRecord r;
    r.topic = "t";
    r.value = value;
    (*producer)->Send(r,
                      [out](const absl::Status& s, const RecordMetadata& md) {
                        std::lock_guard<std::mutex> l(out->mu);
                        if (s.ok()) {
                          out->offsets.push_back(md.offset);
                        } else {
                          out->failed++;
                        }
                      });
  }
  REQUIRE((*producer)->Flush(std::chrono::seconds(30)).ok());
}

void CheckDeliveredInOrder(Outcome& out, int n) {
  CHECK(out.failed == 0);
  REQUIRE(out.offsets.size() == static_cast<size_t>(n));
  for (int i = 0; i < n; i++) CHECK(out.offsets[i] == i);
}

TEST_CASE(
    "A retriable error makes the partition resend the same batch bytes, and "
    "the batches behind it follow in order",
    "[client][sender][fake]") {
  // The first batch is refused with NOT_LEADER_OR_FOLLOWER; the ones
  // pipelined behind it then see a sequence gap (OUT_OF_ORDER_SEQUENCE).
  FakeBroker broker([](const SeenBatch& b, int index) -> int16_t {
    return index == 0 ? 6 : 0;
  });
  Outcome out;
  ProduceAll(broker, 200, &out);
  CheckDeliveredInOrder(out, 200);
  auto seen = broker.seen();
  REQUIRE(seen.size() > 2);
  CHECK(seen[0].answer == 6);
  // Every resend of a sequence carries the same bytes (same CRC), under the
  // same producer id: nothing was renumbered.
  std::map<int32_t, uint32_t> crc_of;
  for (const auto& b : seen) {
    CHECK(b.producer_id == 1000);
    auto [it, fresh] = crc_of.emplace(b.base_sequence, b.crc);
    if (!fresh) CHECK(it->second == b.crc);
  }
  CHECK(broker.init_producer_id_calls() == 1);
  CHECK(broker.appended() == crc_of.size());
  // What was appended, in order, is sequence order.
  int32_t next = 0;
  for (const auto& b : seen) {
    if (b.answer != 0 || b.base_sequence != next) continue;
    next += b.records;
  }
  CHECK(next == 200);
}

TEST_CASE(
    "Answers split into single bytes, or several in one write, are each "
    "matched to their request",
    "[client][sender][fake]") {
  // The producer reads answers in chunks: a size field or body cut across
  // reads, and several answers in one read, must all come out whole.
  for (AnswerShape shape :
       {AnswerShape::kByteByByte, AnswerShape::kCoalesced}) {
    FakeBroker broker([](const SeenBatch&, int) -> int16_t { return 0; });
    broker.SetAnswerShape(shape);
    Outcome out;
    ProduceAll(broker, 300, &out);
    CheckDeliveredInOrder(out, 300);
    CHECK(broker.appended() == broker.seen().size());  // no resends
    if (shape == AnswerShape::kCoalesced) CHECK(broker.coalesced_writes() > 0);
  }
}

TEST_CASE(
    "A connection dropped after an append: the retry is answered as a "
    "duplicate and nothing is appended twice",
    "[client][sender][fake]") {
  // The third batch is appended but its answer lost with the connection;
  // the eighth is lost before it is appended.
  std::atomic<int> drops{0};
  FakeBroker broker([&](const SeenBatch& b, int index) -> int16_t {
    if (index == 2) {
      drops++;
      return kAppendThenDrop;
    }
    if (index == 7) {
      drops++;
      return kDrop;
    }
    return 0;
  });
  Outcome out;
  ProduceAll(broker, 300, &out);
  CheckDeliveredInOrder(out, 300);
  CHECK(drops.load() == 2);
  auto seen = broker.seen();
  int32_t total = 0;
  std::map<int32_t, int> sends;
  for (const auto& b : seen) {
    if (sends[b.base_sequence]++ == 0) total += b.records;
  }
  CHECK(total == 300);
  CHECK(broker.appended() == sends.size());  // once each
}

TEST_CASE(
    "UNKNOWN_PRODUCER_ID gets a new producer id with sequences from 0, not a "
    "failure",
    "[client][sender][fake]") {
  FakeBroker broker([](const SeenBatch& b, int index) -> int16_t {
    return index == 0 ? 59 : 0;
  });
  Outcome out;
  ProduceAll(broker, 100, &out);
  CheckDeliveredInOrder(out, 100);
  auto seen = broker.seen();
  REQUIRE(seen.size() >= 2);
  CHECK(seen[0].producer_id == 1000);
  CHECK(broker.init_producer_id_calls() == 2);
  // After the reset everything is sent under the new id, from sequence 0.
  bool after_reset = false;
  int32_t next = 0;
  for (const auto& b : seen) {
    if (b.producer_id == 1001) {
      if (!after_reset) CHECK(b.base_sequence == 0);
      after_reset = true;
      if (b.answer == 0) {
        CHECK(b.base_sequence == next);
        next += b.records;
      }
    }
  }
  CHECK(after_reset);
  CHECK(next == 100);
}

TEST_CASE(
    "An OUT_OF_ORDER_SEQUENCE nothing explains resets the producer id; a "
    "fatal error fails only its own batch",
    "[client][sender][fake]") {
  FakeBroker broker([](const SeenBatch& b, int index) -> int16_t {
    if (index == 0) return 45;  // the broker lost our sequence state
    return 0;
  });
  Outcome out;
  ProduceAll(broker, 50, &out);
  CheckDeliveredInOrder(out, 50);
  CHECK(broker.init_producer_id_calls() == 2);

  FakeBroker strict([](const SeenBatch& b, int index) -> int16_t {
    return index == 0 ? 87 : 0;  // INVALID_RECORD: not retriable
  });
  Outcome mixed;
  ProduceAll(strict, 50, &mixed,
             {{"batch.size", "100000"}, {"linger.ms", "50"}});
  // One batch (every record so far) failed; the producer went on.
  CHECK(mixed.failed + static_cast<int>(mixed.offsets.size()) == 50);
  CHECK(mixed.failed > 0);
}

TEST_CASE(
    "A producer id reset waits until a batch whose answer was lost is "
    "resolved under the old id, so it is not appended a second time",
    "[client][sender][fake]") {
  // Partition t-0 (node 0) has forgotten the producer: UNKNOWN_PRODUCER_ID,
  // so the producer must take a new id. Meanwhile partition u-0 (node 1, its
  // own connection) appended its first batch but the answer was lost with
  // the connection, and the next resends are lost too until t has been
  // refused. Re-stamping u's batch under the new id would append it again;
  // resent under the old id it is recognised as a duplicate.
  std::atomic<bool> t_refused{false};
  int u_sends = 0;  // under the fake broker's lock
  std::atomic<int> u_drops_after_refusal{0};
  FakeBroker broker(
      [&](const SeenBatch& b, int) -> int16_t {
        if (b.producer_id != 1000) return 0;
        if (b.topic == "t") {
          t_refused = true;
          return 59;  // UNKNOWN_PRODUCER_ID
        }
        if (b.base_sequence != 0) return 0;
        if (u_sends++ == 0) return kAppendThenDrop;
        // Every resend is lost until t was refused, and twice more after
        // that, so that the reset certainly meets u's batch unresolved.
        if (!t_refused.load()) return kDrop;
        return u_drops_after_refusal.fetch_add(1) < 2 ? kDrop : 0;
      },
      /*nodes=*/2);
  auto producer = Producer::Create({{"bootstrap.servers", broker.bootstrap()},
                                    {"linger.ms", "0"},
                                    {"retry.backoff.ms", "10"},
                                    {"request.timeout.ms", "2000"},
                                    {"delivery.timeout.ms", "10000"}});
  REQUIRE(producer.ok());
  std::mutex mu;
  std::map<std::string, std::vector<absl::Status>> results;
  // u's record first, so that its batch is appended before t refuses.
  for (const char* topic : {"u", "t"}) {
    ProducerRecord r;
    r.topic = topic;
    r.value = "v";
    (*producer)->Send(r,
                      [&, topic](const absl::Status& s, const RecordMetadata&) {
                        std::lock_guard<std::mutex> l(mu);
                        results[topic].push_back(s);
                      });
    if (std::string(topic) == "u") {
      // Until u's first send was appended (and its answer lost).
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (broker.records_appended("u") == 0 &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      REQUIRE(broker.records_appended("u") == 1);
    }
  }
  REQUIRE((*producer)->Flush(std::chrono::seconds(30)).ok());
  REQUIRE((*producer)->Close(std::chrono::seconds(5)).ok());
  {
    std::lock_guard<std::mutex> l(mu);
    for (const char* topic : {"u", "t"}) {
      INFO(topic);
      REQUIRE(results[topic].size() == 1);
      CHECK(results[topic][0].ok());
    }
  }
  CHECK(t_refused.load());
  CHECK(u_drops_after_refusal.load() >= 2);
  CHECK(broker.init_producer_id_calls() == 2);
  // Each record is in the log once.
  CHECK(broker.records_appended("u") == 1);
  CHECK(broker.records_appended("t") == 1);
}

TEST_CASE(
    "A broker that stops in the middle of an answer is timed out after "
    "request.timeout.ms, and the retry is answered as a duplicate",
    "[client][sender][fake]") {
  FakeBroker broker([](const SeenBatch&, int index) -> int16_t {
    return index == 0 ? kAppendThenStall : 0;
  });
  Outcome out;
  // Left hanging, the record would fail at delivery.timeout.ms.
  ProduceAll(broker, 1, &out,
             {{"request.timeout.ms", "500"}, {"delivery.timeout.ms", "20000"}});
  CheckDeliveredInOrder(out, 1);
  CHECK(broker.appended() == 1);
  auto seen = broker.seen();
  REQUIRE(seen.size() == 2);  // the stalled attempt and the retry
  CHECK(seen[1].base_sequence == seen[0].base_sequence);
}

TEST_CASE(
    "Sends from several threads, some written by the sending thread itself, "
    "keep each thread's order and are appended once",
    "[client][sender][fake]") {
  // With linger.ms 0 a Send that finds the network thread idle writes the
  // request itself; one that finds it busy leaves the work to it. Threads
  // pausing now and then get both, to two brokers (topic t on node 0, u on
  // node 1), against retriable refusals and dropped connections.
  FakeBroker broker(
      [](const SeenBatch&, int index) -> int16_t {
        if (index % 53 == 7) return kDrop;
        return index % 40 == 3 ? 6 : 0;  // NOT_LEADER_OR_FOLLOWER
      },
      2);
  auto producer = Producer::Create({{"bootstrap.servers", broker.bootstrap()},
                                    {"linger.ms", "0"},
                                    {"batch.size", "300"},
                                    {"retry.backoff.ms", "5"},
                                    {"request.timeout.ms", "5000"},
                                    {"delivery.timeout.ms", "30000"}});
  REQUIRE(producer.ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 400;
  const std::string topics[2] = {"t", "u"};
  std::mutex mu;
  // offsets[thread][topic], in callback order
  std::vector<std::array<std::vector<int64_t>, 2>> offsets(kThreads);
  int failed = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::string value(50, static_cast<char>('a' + t));
      for (int i = 0; i < kPerThread; i++) {
        ProducerRecord r;
        r.topic = topics[i % 2];
        r.value = value;
        (*producer)->Send(
            r, [&, t, i](const absl::Status& s, const RecordMetadata& md) {
              std::lock_guard<std::mutex> l(mu);
              if (s.ok()) {
                offsets[t][i % 2].push_back(md.offset);
              } else {
                failed++;
              }
            });
        if (i % 7 == t) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE((*producer)->Flush(std::chrono::seconds(60)).ok());
  std::lock_guard<std::mutex> l(mu);
  CHECK(failed == 0);
  for (int t = 0; t < kThreads; t++) {
    for (int topic = 0; topic < 2; topic++) {
      const auto& o = offsets[t][topic];
      REQUIRE(o.size() == static_cast<size_t>(kPerThread / 2));
      // One thread's records to a partition were appended in the order it
      // sent them.
      for (size_t i = 1; i < o.size(); i++) CHECK(o[i] > o[i - 1]);
    }
  }
  // Nothing appended twice, although answers were lost with connections.
  CHECK(broker.records_appended("t") == kThreads * kPerThread / 2);
  CHECK(broker.records_appended("u") == kThreads * kPerThread / 2);
}

TEST_CASE("Without idempotence no producer id is requested",
          "[client][sender][fake]") {
  FakeBroker broker([](const SeenBatch&, int) -> int16_t { return 0; });
  Outcome out;
  ProduceAll(broker, 20, &out, {{"enable.idempotence", "false"}});
  CHECK(out.failed == 0);
  CHECK(broker.init_producer_id_calls() == 0);
  for (const auto& b : broker.seen()) {
    CHECK(b.producer_id == -1);
    CHECK(b.base_sequence == -1);
  }
}

}  // namespace
}  // namespace fjord::testing
