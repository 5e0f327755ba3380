// acks=all through group commit (broker/group_commit.h, the committed
// watermark in broker/partition.h): what is acknowledged is durable, many
// waiting requests share flushes, a failed flush acknowledges nothing,
// and a commit that does not come in time is REQUEST_TIMED_OUT. Runs the
// RequestHandler in process over a fault-injecting file system.
#include "broker/group_commit.h"

#include <catch2/catch.hpp>
#include <future>
#include <set>
#include <thread>

#include "broker/kafka/errors.h"
#include "broker/request_handler.h"
#include "log/fault_injection_file_system.h"
#include "log/internal/endian.h"
#include "tests/util/test_util.h"

namespace fjord::broker {
namespace {

using kafka::Reader;
using kafka::Writer;
using testing::MakeBatch;
using testing::TempDir;

std::string ProduceFrame(std::string_view topic, int32_t partition,
                         const std::string& records, int16_t acks,
                         int32_t timeout_ms = 30'000) {
  std::string s;
  Writer w(&s);
  w.Int16(kafka::kProduce);
  w.Int16(7);
  w.Int32(42);
  w.String("test");
  w.NullableString(std::nullopt);
  w.Int16(acks);
  w.Int32(timeout_ms);
  w.ArrayLength(1);
  w.String(topic);
  w.ArrayLength(1);
  w.Int32(partition);
  w.Int32(static_cast<int32_t>(records.size()));
  s += records;
  return s;
}

struct ProduceResult {
  int16_t error;
  int64_t base_offset;
};

ProduceResult ParseProduce(std::string body) {
  Reader r(std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
  REQUIRE(r.ArrayLength() == 1);
  r.String();
  REQUIRE(r.ArrayLength() == 1);
  r.Int32();
  ProduceResult res{r.Int16(), r.Int64()};
  REQUIRE(r.ok());
  return res;
}

// Logs, topics and a handler over a fault-injecting file system, with the
// broker's GroupCommitter (or a driver the test supplies).
struct Broker {
  TempDir tmp;
  log::FaultInjectionFileSystem fs{log::PosixFileSystem()};
  BrokerConfig config;
  std::unique_ptr<log::LogManager> logs;
  std::unique_ptr<TopicManager> topics;
  std::unique_ptr<ProducerIdAllocator> ids;
  std::unique_ptr<GroupCommitter> committer;
  std::unique_ptr<RequestHandler> handler;

  explicit Broker(CommitDriver* driver = nullptr, int threads = 2)
      : threads(threads) {
    config.log_defaults.flush_ms = -1;  // only acks=all flushes
    config.log_defaults.segment_bytes = 1 << 20;
    Open(driver);
  }
  const int threads;
  void Open(CommitDriver* driver = nullptr) {
    log::LogManagerOptions o;
    o.data_dir = tmp.Sub("data");
    o.default_config = config.log_defaults;
    o.log_options.fs = &fs;
    o.start_flusher = false;
    o.cleaner_enable = false;
    auto m = log::LogManager::Open(o);
    INFO(m.status().ToString());
    REQUIRE(m.ok());
    logs = std::move(*m);
    auto t = TopicManager::Open(logs.get(), config.log_defaults, o.data_dir);
    REQUIRE(t.ok());
    topics = std::move(*t);
    ids = std::make_unique<ProducerIdAllocator>(
        log::PosixFileSystem(), o.data_dir + "/producer-ids", 10);
    if (driver == nullptr) {
      committer = std::make_unique<GroupCommitter>(threads);
      driver = committer.get();
    }
    handler = std::make_unique<RequestHandler>(&config, topics.get(), ids.get(),
                                               nullptr, driver);
  }
  // Power loss: whatever was not synced is gone, then a restart without
  // any shutdown work.
  void PowerLoss() {
    handler.reset();
    committer.reset();
    topics.reset();
    ids.reset();
    logs.reset();  // no Close: no flush, no clean-shutdown marker
    REQUIRE(fs.DropUnsyncedData().ok());
    fs.Reset();
    Open();
  }
  // Starts one request on `io`; the future is ready with its response body.
  std::future<std::string> Start(asio::io_context& io, std::string frame) {
    auto owned = std::make_shared<std::string>(std::move(frame));
    return asio::co_spawn(
        asio::make_strand(io),
        [this, owned]() -> asio::awaitable<std::string> {
          auto handled = co_await handler->Handle(std::span(
              reinterpret_cast<uint8_t*>(owned->data()), owned->size()));
          std::string out;
          if (handled.ok() && handled->response != nullptr) {
            for (auto piece : handled->response->Finish()) {
              out.append(reinterpret_cast<const char*>(piece.data()),
                         piece.size());
            }
          }
          co_return out.size() >= 8 ? out.substr(8) : std::string();
        },
        asio::use_future);
  }
  ProduceResult Produce(const std::string& records, int16_t acks,
                        int32_t timeout_ms = 30'000) {
    asio::io_context io;
    auto fut = Start(io, ProduceFrame("t", 0, records, acks, timeout_ms));
    io.run();
    return ParseProduce(fut.get());
  }
  Partition& partition() { return *topics->GetPartition("t", 0); }
};

// Polls `cond` for up to 20 s.
template <typename F>
bool Eventually(F cond) {
  for (int i = 0; i < 2000; i++) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

TEST_CASE("Group commit: an acknowledged acks=all batch survives power loss",
          "[broker][group_commit]") {
  Broker b;
  for (int i = 0; i < 5; i++) {
    auto r = b.Produce(MakeBatch(10, "durable-" + std::to_string(i)), -1);
    REQUIRE(r.error == kafka::kNone);
    CHECK(r.base_offset == i * 10);
  }
  CHECK(b.partition().committed_offset() == Offset(50));
  // acks=1 is acknowledged from the page cache: the power loss takes it,
  // which shows the loss is real.
  REQUIRE(b.Produce(MakeBatch(10, "volatile"), 1).error == kafka::kNone);
  REQUIRE(b.partition().log().log_end_offset() == Offset(60));

  b.PowerLoss();

  auto records = testing::ReadAll(b.partition().log());
  REQUIRE(records.size() == 50);
  for (int i = 0; i < 50; i++) {
    CHECK(records[i].offset == i);
    CHECK(records[i].value ==
          "durable-" + std::to_string(i / 10) + "-" + std::to_string(i % 10));
  }
}

TEST_CASE(
    "Group commit: concurrent acks=all requests are all acknowledged, "
    "sharing flushes",
    "[broker][group_commit]") {
  // One flusher thread, so the flushes are counted exactly.
  Broker b(nullptr, /*threads=*/1);
  REQUIRE(b.Produce(MakeBatch(1), 1).error == kafka::kNone);  // the topic
  constexpr int kRequests = 8;
  // The first flush waits for the disk while the others arrive.
  b.fs.BlockSyncs();
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::vector<std::future<std::string>> answers;
  answers.push_back(b.Start(io, ProduceFrame("t", 0, MakeBatch(3, "r0"), -1)));
  REQUIRE(Eventually([&] { return b.fs.blocked_syncs() > 0; }));
  for (int i = 1; i < kRequests; i++) {
    answers.push_back(b.Start(
        io, ProduceFrame("t", 0, MakeBatch(3, "r" + std::to_string(i)), -1)));
  }
  REQUIRE(Eventually(
      [&] { return b.partition().commit_waiter_count() == kRequests; }));
  const uint64_t before = b.committer->flushes();
  // Nothing acknowledged while the flush is stuck.
  for (auto& a : answers) {
    CHECK(a.wait_for(std::chrono::milliseconds(0)) ==
          std::future_status::timeout);
  }
  b.fs.UnblockSyncs();
  std::set<int64_t> offsets;
  for (auto& a : answers) {
    REQUIRE(a.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    auto r = ParseProduce(a.get());
    CHECK(r.error == kafka::kNone);
    offsets.insert(r.base_offset);
  }
  work.reset();
  runner.join();
  // Eight distinct batches of three after the first record.
  CHECK(offsets.size() == kRequests);
  CHECK(*offsets.begin() == 1);
  CHECK(*offsets.rbegin() == 1 + 3 * (kRequests - 1));
  // The stuck flush covered the first request; one more covered the other
  // seven together.
  CHECK(before == 0);
  CHECK(b.committer->flushes() == 2);
  CHECK(b.partition().committed_offset() == Offset(1 + 3 * kRequests));
}

TEST_CASE("Group commit: many producers on threads are all acknowledged",
          "[broker][group_commit]") {
  Broker b;
  REQUIRE(b.Produce(MakeBatch(1), 1).error == kafka::kNone);
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  std::vector<std::vector<ProduceResult>> results(kThreads);
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; i++) {
        asio::io_context io;
        auto fut = b.Start(io, ProduceFrame("t", 0, MakeBatch(2), -1));
        io.run();
        std::string body = fut.get();
        Reader r(
            std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
        r.ArrayLength();
        r.String();
        r.ArrayLength();
        r.Int32();
        int16_t error = r.Int16();
        int64_t base = r.Int64();
        results[t].push_back({error, base});
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> offsets;
  for (const auto& rs : results) {
    for (const auto& r : rs) {
      CHECK(r.error == kafka::kNone);
      offsets.insert(r.base_offset);
    }
  }
  CHECK(offsets.size() == kThreads * kEach);
  CHECK(b.partition().committed_offset() == Offset(1 + 2 * kThreads * kEach));
  INFO("flushes: " << b.committer->flushes() << " for " << kThreads * kEach
                   << " requests");
  CHECK(b.committer->flushes() <= static_cast<uint64_t>(kThreads * kEach));
}

TEST_CASE(
    "Group commit: a failed flush fails every waiting request with a storage "
    "error and acknowledges none",
    "[broker][group_commit]") {
  Broker b;
  REQUIRE(b.Produce(MakeBatch(1), -1).error == kafka::kNone);
  const Offset committed = b.partition().committed_offset();
  b.fs.BlockSyncs();
  b.fs.SetSyncFails(true);
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::vector<std::future<std::string>> answers;
  answers.push_back(b.Start(io, ProduceFrame("t", 0, MakeBatch(2), -1)));
  REQUIRE(Eventually([&] { return b.fs.blocked_syncs() > 0; }));
  for (int i = 0; i < 5; i++) {
    answers.push_back(b.Start(io, ProduceFrame("t", 0, MakeBatch(2), -1)));
  }
  REQUIRE(Eventually([&] { return b.partition().commit_waiter_count() == 6; }));
  b.fs.UnblockSyncs();
  for (auto& a : answers) {
    REQUIRE(a.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    auto r = ParseProduce(a.get());
    CHECK(r.error == kafka::kKafkaStorageError);
    CHECK(r.base_offset == -1);
  }
  work.reset();
  runner.join();
  CHECK(b.partition().committed_offset() == committed);
  CHECK(b.partition().commit_waiter_count() == 0);
  // acks=1 needs no flush; and once the disk works again acks=all does too.
  CHECK(b.Produce(MakeBatch(1), 1).error == kafka::kNone);
  b.fs.SetSyncFails(false);
  auto r = b.Produce(MakeBatch(1), -1);
  CHECK(r.error == kafka::kNone);
  CHECK(b.partition().committed_offset() ==
        b.partition().log().log_end_offset());
}

// A driver that commits only when the test says so.
class ManualDriver final : public CommitDriver {
 public:
  void RequestCommit(std::shared_ptr<Partition> p) override {
    absl::MutexLock l(&mu_);
    requests_++;
    last_ = std::move(p);
  }
  int requests() {
    absl::MutexLock l(&mu_);
    return requests_;
  }
  std::shared_ptr<Partition> last() {
    absl::MutexLock l(&mu_);
    return last_;
  }

 private:
  absl::Mutex mu_;
  int requests_ = 0;
  std::shared_ptr<Partition> last_;
};

TEST_CASE(
    "Group commit: acks=all waits for the committed watermark, not for a "
    "flush of its own",
    "[broker][group_commit]") {
  ManualDriver driver;
  Broker b(&driver);
  REQUIRE(b.Produce(MakeBatch(1), 1).error == kafka::kNone);
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  auto a = b.Start(io, ProduceFrame("t", 0, MakeBatch(4), -1));
  REQUIRE(Eventually([&] { return driver.requests() == 1; }));
  // Appended (visible to fetches) but not acknowledged.
  CHECK(b.partition().log().log_end_offset() == Offset(5));
  CHECK(a.wait_for(std::chrono::milliseconds(100)) ==
        std::future_status::timeout);
  // A watermark short of the batch's end is not enough...
  driver.last()->AdvanceCommitted(Offset(4));
  CHECK(a.wait_for(std::chrono::milliseconds(100)) ==
        std::future_status::timeout);
  // ...its end is (whoever moves it: replication will, issue 10).
  driver.last()->AdvanceCommitted(Offset(5));
  REQUIRE(a.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  auto r = ParseProduce(a.get());
  CHECK(r.error == kafka::kNone);
  CHECK(r.base_offset == 1);
  // A target already committed is answered at once, on the caller's
  // thread, and asks the driver for nothing.
  struct Flag final : CommitWaiter {
    bool ok = false;
    void Done(const absl::Status& s) override { ok = s.ok(); }
  };
  auto flag = std::make_shared<Flag>();
  CHECK_FALSE(driver.last()->WaitForCommit(Offset(5), flag));
  CHECK(flag->ok);
  CHECK(driver.requests() == 1);
  work.reset();
  runner.join();
}

TEST_CASE(
    "Group commit: a commit that does not come within the request's timeout "
    "is REQUEST_TIMED_OUT",
    "[broker][group_commit]") {
  ManualDriver driver;
  Broker b(&driver);
  const auto start = std::chrono::steady_clock::now();
  auto r = b.Produce(MakeBatch(2), -1, /*timeout_ms=*/200);
  CHECK(r.error == kafka::kRequestTimedOut);
  CHECK(r.base_offset == -1);
  CHECK(std::chrono::steady_clock::now() - start >=
        std::chrono::milliseconds(200));
  // A commit arriving after the answer is harmless.
  driver.last()->AdvanceCommitted(Offset(2));
  CHECK(driver.last()->commit_waiter_count() == 0);
}

}  // namespace
}  // namespace fjord::broker
