// EtcdClient: a small client of etcd's v3 gRPC API (proto/etcd/rpc.proto):
// key-value reads and writes, transactions with compare guards, leases with
// a background keepalive, and prefix watches that resume by themselves.
// Every unary call carries a deadline (EtcdOptions::request_timeout); a
// call that cannot reach etcd returns kUnavailable naming the endpoint.
//
// Thread-safe: calls may come from any thread concurrently. LeaseKeeper and
// Watch run their own thread each and call their callbacks from it.
#ifndef FJORD_BROKER_CLUSTER_ETCD_CLIENT_H_
#define FJORD_BROKER_CLUSTER_ETCD_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fjord::cluster {

struct EtcdOptions {
  // "http://host:port" or "host:port"; tried in order, the next one after a
  // call finds the current one unreachable.
  std::vector<std::string> endpoints;
  // How long Connect() keeps trying to reach an endpoint.
  absl::Duration connect_timeout = absl::Seconds(2);
  // The deadline of every unary call.
  absl::Duration request_timeout = absl::Seconds(5);
};

// "http://a:1,b:2" -> {"http://a:1", "b:2"}; kInvalidArgument for an empty
// list, a scheme other than http, or a bad host:port.
absl::StatusOr<std::vector<std::string>> ParseEtcdEndpoints(
    std::string_view list);

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  // The store revision the read saw.
  int64_t revision = 0;
};

// One term of a transaction's guard: `key`'s `target` compared to a number
// (revisions, version, lease) or a value. A missing key has create
// revision, mod revision, version and lease 0.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  Target target = Target::kVersion;
  Result result = Result::kEqual;
  int64_t number = 0;
  std::string value;

  static Compare Absent(std::string key) {
    return {std::move(key), Target::kCreateRevision, Result::kEqual, 0, {}};
  }
  static Compare CreateRevision(std::string key, int64_t rev) {
    return {std::move(key), Target::kCreateRevision, Result::kEqual, rev, {}};
  }
  static Compare ModRevision(std::string key, int64_t rev) {
    return {std::move(key), Target::kModRevision, Result::kEqual, rev, {}};
  }
  static Compare Value(std::string key, std::string value) {
    return {std::move(key), Target::kValue, Result::kEqual, 0,
            std::move(value)};
  }
};

// One operation of a transaction branch.
struct Op {
  enum class Kind { kGet, kGetPrefix, kPut, kDelete };
  Kind kind = Kind::kGet;
  std::string key;
  std::string value;  // kPut
  int64_t lease = 0;  // kPut; 0: none

  static Op Get(std::string key) { return {Kind::kGet, std::move(key), {}, 0}; }
  static Op GetPrefix(std::string prefix) {
    return {Kind::kGetPrefix, std::move(prefix), {}, 0};
  }
  static Op Put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease};
  }
  static Op Delete(std::string key) {
    return {Kind::kDelete, std::move(key), {}, 0};
  }
};

struct TxnResult {
  bool succeeded = false;
  // The revision after the transaction (unchanged if it wrote nothing).
  int64_t revision = 0;
  // The result of each kGet/kGetPrefix of the branch taken, in order.
  std::vector<RangeResult> reads;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // For kDelete: the key, and mod_revision = the deletion's revision.
  KeyValue kv;
};

// Keeps one lease alive from its own thread: a keepalive every ttl/3. The
// lease counts as lost when etcd says it no longer exists or when no
// keepalive succeeded for a whole TTL (etcd may have expired it: nothing
// bound to it may be relied on any more); `on_lost` is then called once
// and the keeper stops. Destruction stops it without revoking the lease.
class LeaseKeeper {
 public:
  virtual ~LeaseKeeper() = default;
  virtual int64_t lease_id() const = 0;
  // True until the lease is known or presumed lost.
  virtual bool alive() const = 0;
  virtual void Stop() = 0;
};

// A prefix watch from its own thread. `on_events` gets each batch of
// changes in revision order; after a broken stream the watch reopens from
// the revision after the last one delivered, so no change is lost or
// repeated. If that revision has been compacted away, `on_compacted` is
// called with etcd's compact revision and the watch ends: the owner must
// re-read the prefix and watch again. Destruction stops it.
class Watch {
 public:
  virtual ~Watch() = default;
  // The revision of the last change delivered (or the revision the watch
  // started after).
  virtual int64_t last_revision() const = 0;
  // False while the stream is broken and being reopened.
  virtual bool connected() const = 0;
  // How many times the stream was reopened after a break.
  virtual int reconnects() const = 0;
  virtual void Stop() = 0;
};

struct WatchCallbacks {
  std::function<void(std::span<const WatchEvent> events, int64_t revision)>
      on_events;
  std::function<void(int64_t compact_revision)> on_compacted;
};

class EtcdClient {
 public:
  // Opens channels to the endpoints and checks, within
  // options.connect_timeout, that one of them answers a linearizable read
  // (so etcd is up and has quorum). kUnavailable naming the endpoints
  // otherwise; kInvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Connect(
      EtcdOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  const EtcdOptions& options() const;

  // nullopt if the key does not exist.
  absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key);
  // Every key starting with `prefix`, sorted by key.
  absl::StatusOr<RangeResult> GetPrefix(std::string_view prefix);
  // Returns the revision of the write. `lease` 0: no lease.
  absl::StatusOr<int64_t> Put(std::string_view key, std::string_view value,
                              int64_t lease = 0);
  // Returns how many keys were deleted (0 or 1).
  absl::StatusOr<int64_t> Delete(std::string_view key);
  absl::StatusOr<TxnResult> Txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& success,
                                const std::vector<Op>& failure = {});

  struct Lease {
    int64_t id = 0;
    // As granted by etcd (it enforces a minimum, 2 s with default settings).
    int64_t ttl_seconds = 0;
    // When the grant was sent: the lease lives at least until
    // granted_at + ttl_seconds unless revoked.
    absl::Time granted_at;
  };
  absl::StatusOr<Lease> GrantLease(int64_t ttl_seconds);
  // Deletes the lease and every key bound to it. kNotFound if it is gone.
  absl::Status RevokeLease(int64_t id);
  // One keepalive; returns the renewed TTL in seconds. kNotFound if the
  // lease no longer exists.
  absl::StatusOr<int64_t> KeepAliveOnce(int64_t id);
  // Starts keeping `lease` alive (see LeaseKeeper). `on_lost` may be empty.
  std::unique_ptr<LeaseKeeper> KeepAlive(Lease lease,
                                         std::function<void()> on_lost);

  // Watches every key starting with `prefix`, from `start_revision`
  // (inclusive; 0: changes after now). Returns once etcd confirmed the watch
  // (within request_timeout), kUnavailable otherwise.
  absl::StatusOr<std::unique_ptr<Watch>> WatchPrefix(std::string prefix,
                                                     int64_t start_revision,
                                                     WatchCallbacks callbacks);

  class Rep;

 private:
  explicit EtcdClient(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// The smallest key greater than every key with `prefix`: etcd's range_end
// for a prefix ("a/" -> "a0"; "" -> "\0", every key).
std::string PrefixRangeEnd(std::string_view prefix);

}  // namespace fjord::cluster

#endif  // FJORD_BROKER_CLUSTER_ETCD_CLIENT_H_
