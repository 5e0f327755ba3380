// EtcdClient against a real etcd on loopback: reads, writes, transactions,
// leases and their expiry, watches and their resumption after a broken
// stream, and the failures a broker must report clearly.
#include "broker/cluster/etcd_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <mutex>

#include "tests/cluster/etcd_process.h"
#include "tests/util/test_util.h"

namespace fjord::cluster {
namespace {

using testing::EtcdProcess;
using testing::SharedEtcd;
using testing::TcpProxy;
using testing::UniqueClusterName;

std::unique_ptr<EtcdClient> MustConnect(
    const std::string& endpoint,
    absl::Duration request_timeout = absl::Seconds(5)) {
  EtcdOptions o;
  o.endpoints = {endpoint};
  o.request_timeout = request_timeout;
  auto c = EtcdClient::Connect(o);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  return std::move(*c);
}

// A loopback port nothing listens on.
int DeadPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Collects watch events from the watch thread.
struct Recorder {
  std::mutex mu;
  std::vector<WatchEvent> events;
  std::vector<int64_t> compacted;
  WatchCallbacks callbacks() {
    WatchCallbacks c;
    c.on_events = [this](std::span<const WatchEvent> e, int64_t) {
      std::lock_guard<std::mutex> l(mu);
      events.insert(events.end(), e.begin(), e.end());
    };
    c.on_compacted = [this](int64_t rev) {
      std::lock_guard<std::mutex> l(mu);
      compacted.push_back(rev);
    };
    return c;
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return events.size();
  }
  bool WaitForSize(size_t n, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (size() >= n) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return size() >= n;
  }
};

TEST_CASE("ParseEtcdEndpoints: accepts a comma list of http://host:port",
          "[cluster][etcd]") {
  auto e = ParseEtcdEndpoints("http://127.0.0.1:2379, 127.0.0.2:2379/");
  REQUIRE(e.ok());
  CHECK(*e == std::vector<std::string>{"http://127.0.0.1:2379",
                                       "http://127.0.0.2:2379"});
  CHECK_FALSE(ParseEtcdEndpoints("").ok());
  CHECK_FALSE(ParseEtcdEndpoints("https://127.0.0.1:2379").ok());
  CHECK_FALSE(ParseEtcdEndpoints("http://127.0.0.1").ok());
  CHECK_FALSE(ParseEtcdEndpoints("http://127.0.0.1:99999").ok());
}

TEST_CASE("PrefixRangeEnd: the first key after every key with the prefix",
          "[cluster][etcd]") {
  CHECK(PrefixRangeEnd("/fjord/a/") == "/fjord/a0");
  CHECK(PrefixRangeEnd("a\xff") == "b");
  CHECK(PrefixRangeEnd("\xff\xff") == std::string(1, '\0'));
}

TEST_CASE("EtcdClient: put, get, get-prefix and delete with revisions",
          "[cluster][etcd]") {
  auto c = MustConnect(SharedEtcd().endpoint());
  const std::string p = "/" + UniqueClusterName() + "/";
  auto r1 = c->Put(p + "a", "1");
  REQUIRE(r1.ok());
  auto r2 = c->Put(p + "b", "2");
  REQUIRE(r2.ok());
  CHECK(*r2 > *r1);
  REQUIRE(c->Put(p + "a", "3").ok());
  REQUIRE(c->Put(p.substr(0, p.size() - 1) + "x", "outside").ok());

  auto a = c->Get(p + "a");
  REQUIRE(a.ok());
  REQUIRE(a->has_value());
  CHECK((*a)->value == "3");
  CHECK((*a)->create_revision == *r1);
  CHECK((*a)->version == 2);
  auto missing = c->Get(p + "nope");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());

  auto all = c->GetPrefix(p);
  REQUIRE(all.ok());
  REQUIRE(all->kvs.size() == 2);
  CHECK(all->kvs[0].key == p + "a");
  CHECK(all->kvs[1].key == p + "b");
  CHECK(all->revision >= *r2);

  auto deleted = c->Delete(p + "a");
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  CHECK(*c->Delete(p + "a") == 0);
  CHECK_FALSE(c->Get(p + "a")->has_value());
}

TEST_CASE(
    "EtcdClient: a transaction's guard picks the branch (create if absent, "
    "compare-and-swap on mod revision or value)",
    "[cluster][etcd]") {
  auto c = MustConnect(SharedEtcd().endpoint());
  const std::string k = "/" + UniqueClusterName() + "/k";
  auto created =
      c->Txn({Compare::Absent(k)}, {Op::Put(k, "first")}, {Op::Get(k)});
  REQUIRE(created.ok());
  CHECK(created->succeeded);
  auto again =
      c->Txn({Compare::Absent(k)}, {Op::Put(k, "second")}, {Op::Get(k)});
  REQUIRE(again.ok());
  CHECK_FALSE(again->succeeded);
  REQUIRE(again->reads.size() == 1);
  REQUIRE(again->reads[0].kvs.size() == 1);
  const KeyValue kv = again->reads[0].kvs[0];
  CHECK(kv.value == "first");
  CHECK(kv.create_revision == created->revision);

  // CAS on the mod revision: the stale one loses.
  auto cas =
      c->Txn({Compare::ModRevision(k, kv.mod_revision)}, {Op::Put(k, "cas")});
  REQUIRE(cas.ok());
  CHECK(cas->succeeded);
  auto stale =
      c->Txn({Compare::ModRevision(k, kv.mod_revision)}, {Op::Put(k, "stale")});
  REQUIRE(stale.ok());
  CHECK_FALSE(stale->succeeded);
  // On the value, and on the create revision (an election's guard).
  CHECK(c->Txn({Compare::Value(k, "cas")}, {Op::Put(k, "v")})->succeeded);
  CHECK_FALSE(c->Txn({Compare::Value(k, "cas")}, {Op::Put(k, "w")})->succeeded);
  CHECK(c->Txn({Compare::CreateRevision(k, created->revision)},
               {Op::Delete(k), Op::Put(k + "2", "x")})
            ->succeeded);
  CHECK_FALSE(c->Get(k)->has_value());
  CHECK((*c->Get(k + "2"))->value == "x");
  // A re-created key has a new create revision: the old guard fails.
  REQUIRE(c->Put(k, "again").ok());
  CHECK_FALSE(c->Txn({Compare::CreateRevision(k, created->revision)},
                     {Op::Put(k, "deposed")})
                  ->succeeded);
  CHECK((*c->Get(k))->value == "again");
}

TEST_CASE("EtcdClient: revoking a lease deletes the keys bound to it",
          "[cluster][etcd]") {
  auto c = MustConnect(SharedEtcd().endpoint());
  const std::string k = "/" + UniqueClusterName() + "/leased";
  auto lease = c->GrantLease(10);
  REQUIRE(lease.ok());
  CHECK(lease->ttl_seconds == 10);
  REQUIRE(c->Put(k, "v", lease->id).ok());
  CHECK((*c->Get(k))->lease == lease->id);
  REQUIRE(c->RevokeLease(lease->id).ok());
  CHECK_FALSE(c->Get(k)->has_value());
  CHECK(absl::IsNotFound(c->RevokeLease(lease->id)));
  CHECK(absl::IsNotFound(c->KeepAliveOnce(lease->id).status()));
  // A put with a lease that does not exist is refused.
  CHECK(absl::IsNotFound(c->Put(k, "v", lease->id).status()));
}

TEST_CASE(
    "EtcdClient: a lease nobody keeps alive expires with its keys; a kept "
    "one outlives its TTL",
    "[cluster][etcd]") {
  auto c = MustConnect(SharedEtcd().endpoint());
  const std::string p = "/" + UniqueClusterName() + "/";
  auto dying = c->GrantLease(2);
  auto kept = c->GrantLease(2);
  REQUIRE(dying.ok());
  REQUIRE(kept.ok());
  REQUIRE(c->Put(p + "dying", "v", dying->id).ok());
  REQUIRE(c->Put(p + "kept", "v", kept->id).ok());
  std::atomic<bool> lost{false};
  auto keeper = c->KeepAlive(*kept, [&] { lost = true; });
  const absl::Time t0 = absl::Now();
  while (c->Get(p + "dying")->has_value() &&
         absl::Now() - t0 < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  const absl::Duration expired_after = absl::Now() - t0;
  CHECK_FALSE(c->Get(p + "dying")->has_value());
  CHECK(expired_after >= absl::Milliseconds(1500));
  CHECK(expired_after < absl::Seconds(5));
  absl::SleepFor(absl::Seconds(3) - (absl::Now() - t0));
  CHECK(c->Get(p + "kept")->has_value());
  CHECK(keeper->alive());
  CHECK_FALSE(lost);
  keeper->Stop();
  REQUIRE(c->RevokeLease(kept->id).ok());
}

TEST_CASE("EtcdClient: the keeper reports a lease lost when etcd drops it",
          "[cluster][etcd]") {
  auto c = MustConnect(SharedEtcd().endpoint());
  auto lease = c->GrantLease(3);
  REQUIRE(lease.ok());
  std::atomic<int> lost{0};
  auto keeper = c->KeepAlive(*lease, [&] { lost++; });
  CHECK(keeper->alive());
  REQUIRE(c->RevokeLease(lease->id).ok());  // as if it had expired
  const absl::Time t0 = absl::Now();
  while (lost == 0 && absl::Now() - t0 < absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  CHECK(lost == 1);
  CHECK_FALSE(keeper->alive());
}

TEST_CASE(
    "EtcdClient: a keeper cut off from etcd presumes its lease lost after "
    "one TTL",
    "[cluster][etcd]") {
  EtcdProcess& etcd = SharedEtcd();
  TcpProxy proxy(etcd.port());
  auto c = MustConnect(proxy.endpoint(), absl::Milliseconds(500));
  auto lease = c->GrantLease(2);
  REQUIRE(lease.ok());
  std::atomic<bool> lost{false};
  auto keeper = c->KeepAlive(*lease, [&] { lost = true; });
  absl::SleepFor(absl::Seconds(1));
  CHECK(keeper->alive());
  const absl::Time cut = absl::Now();
  proxy.SetBlackhole(true);
  while (!lost && absl::Now() - cut < absl::Seconds(6)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  CHECK(lost);
  CHECK_FALSE(keeper->alive());
  // No later than the lease's TTL after the last keepalive that got through.
  CHECK(absl::Now() - cut <= absl::Seconds(3));
}

TEST_CASE(
    "EtcdClient: a watch delivers puts and deletes in order and resumes "
    "after broken streams without losing or repeating a change",
    "[cluster][etcd]") {
  EtcdProcess& etcd = SharedEtcd();
  TcpProxy proxy(etcd.port());
  auto direct = MustConnect(etcd.endpoint());
  auto watched = MustConnect(proxy.endpoint());
  const std::string p = "/" + UniqueClusterName() + "/";
  REQUIRE(direct->Put(p + "before", "x").ok());
  Recorder rec;
  auto w = watched->WatchPrefix(p, 0, rec.callbacks());
  REQUIRE(w.ok());
  CHECK((*w)->connected());
  REQUIRE(direct->Put(p + "k", "1").ok());
  REQUIRE(direct->Delete(p + "before").ok());
  REQUIRE(direct->Put(p.substr(0, p.size() - 1) + "-outside", "x").ok());
  REQUIRE(rec.WaitForSize(2, absl::Seconds(5)));
  // Three breaks, with changes made while the stream is down.
  int expected = 2;
  for (int round = 0; round < 3; round++) {
    proxy.Cut();
    for (int i = 0; i < 5; i++) {
      REQUIRE(direct->Put(p + "k", std::to_string(round * 10 + i)).ok());
    }
    expected += 5;
    REQUIRE(rec.WaitForSize(expected, absl::Seconds(10)));
  }
  absl::SleepFor(absl::Milliseconds(200));
  std::lock_guard<std::mutex> l(rec.mu);
  REQUIRE(rec.events.size() == static_cast<size_t>(expected));
  CHECK(rec.events[0].type == WatchEvent::Type::kPut);
  CHECK(rec.events[0].kv.value == "1");
  CHECK(rec.events[1].type == WatchEvent::Type::kDelete);
  CHECK(rec.events[1].kv.key == p + "before");
  for (size_t i = 1; i < rec.events.size(); i++) {
    CHECK(rec.events[i].kv.mod_revision > rec.events[i - 1].kv.mod_revision);
  }
  int n = 2;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 5; i++) {
      CHECK(rec.events[n++].kv.value == std::to_string(round * 10 + i));
    }
  }
  CHECK((*w)->reconnects() >= 3);
  CHECK((*w)->last_revision() == rec.events.back().kv.mod_revision);
}

TEST_CASE("EtcdClient: a watch from a compacted revision reports it",
          "[cluster][etcd]") {
  // Its own etcd: compaction affects everyone.
  testing::TempDir tmp;
  std::string error;
  auto etcd = EtcdProcess::Start(tmp.path(), &error);
  INFO(error);
  REQUIRE(etcd != nullptr);
  auto c = MustConnect(etcd->endpoint());
  auto r1 = c->Put("/p/a", "1");
  REQUIRE(c->Put("/p/a", "2").ok());
  auto r3 = c->Put("/p/a", "3");
  REQUIRE(etcd->Compact(*r3));
  Recorder rec;
  auto w = c->WatchPrefix("/p/", *r1, rec.callbacks());
  const absl::Time t0 = absl::Now();
  for (;;) {
    {
      std::lock_guard<std::mutex> l(rec.mu);
      if (!rec.compacted.empty()) break;
    }
    if (!w.ok() || absl::Now() - t0 > absl::Seconds(5)) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (w.ok()) {
    std::lock_guard<std::mutex> l(rec.mu);
    REQUIRE(rec.compacted.size() == 1);
    CHECK(rec.compacted[0] == *r3);
  } else {
    CHECK(absl::IsOutOfRange(w.status()));
  }
}

TEST_CASE(
    "EtcdClient: connecting to an unreachable etcd fails with kUnavailable "
    "within the connect timeout",
    "[cluster][etcd]") {
  SECTION("nothing listens") {
    EtcdOptions o;
    o.endpoints = {"http://127.0.0.1:" + std::to_string(DeadPort())};
    o.connect_timeout = absl::Milliseconds(1500);
    const absl::Time t0 = absl::Now();
    auto c = EtcdClient::Connect(o);
    const absl::Duration took = absl::Now() - t0;
    REQUIRE(absl::IsUnavailable(c.status()));
    CHECK_THAT(std::string(c.status().message()),
               Catch::Contains("cannot reach etcd at " + o.endpoints[0]));
    CHECK(took < absl::Seconds(4));
  }
  SECTION("a silent network (connections accepted, never answered)") {
    TcpProxy proxy(SharedEtcd().port());
    proxy.SetBlackhole(true);
    EtcdOptions o;
    o.endpoints = {proxy.endpoint()};
    o.connect_timeout = absl::Milliseconds(1000);
    const absl::Time t0 = absl::Now();
    auto c = EtcdClient::Connect(o);
    const absl::Duration took = absl::Now() - t0;
    REQUIRE(absl::IsUnavailable(c.status()));
    CHECK(took < absl::Seconds(4));
  }
  SECTION("the second endpoint answers") {
    EtcdOptions o;
    o.endpoints = {"http://127.0.0.1:" + std::to_string(DeadPort()),
                   SharedEtcd().endpoint()};
    o.connect_timeout = absl::Seconds(5);
    auto c = EtcdClient::Connect(o);
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    CHECK((*c)->Put("/" + UniqueClusterName(), "v").ok());
  }
}

TEST_CASE(
    "EtcdClient: once etcd is gone, calls fail with kUnavailable naming it "
    "within the request timeout",
    "[cluster][etcd]") {
  testing::TempDir tmp;
  std::string error;
  auto etcd = EtcdProcess::Start(tmp.path(), &error);
  INFO(error);
  REQUIRE(etcd != nullptr);
  auto c = MustConnect(etcd->endpoint(), absl::Seconds(2));
  REQUIRE(c->Put("/k", "v").ok());
  etcd->Kill();
  const absl::Time t0 = absl::Now();
  auto put = c->Put("/k", "w");
  CHECK(absl::IsUnavailable(put.status()));
  CHECK_THAT(std::string(put.status().message()),
             Catch::Contains(etcd->endpoint()));
  CHECK(absl::IsUnavailable(c->Get("/k").status()));
  CHECK(absl::IsUnavailable(c->GrantLease(5).status()));
  CHECK(absl::IsUnavailable(c->WatchPrefix("/", 0, {}).status()));
  CHECK(absl::Now() - t0 < absl::Seconds(8));
}

}  // namespace
}  // namespace fjord::cluster
