#include "broker/cluster/metadata_cache.h"

#include "absl/strings/str_format.h"
#include "log/status_macros.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace fjord::cluster {

const BrokerInfo* ClusterSnapshot::broker(int32_t node_id) const {
  auto it = brokers.find(node_id);
  return it == brokers.end() ? nullptr : &it->second;
}

const TopicState* ClusterSnapshot::topic(std::string_view name) const {
  auto it = topics.find(name);
  return it == topics.end() ? nullptr : it->second.get();
}

const PartitionState* ClusterSnapshot::partition(std::string_view topic_name,
                                                 int32_t p) const {
  const TopicState* t = topic(topic_name);
  if (t == nullptr || p < 0 || p >= static_cast<int32_t>(t->partitions.size()))
    return nullptr;
  return &t->partitions[p];
}

std::set<int32_t> ClusterSnapshot::live_broker_ids() const {
  std::set<int32_t> out;
  for (const auto& [id, b] : brokers) out.insert(id);
  return out;
}

MetadataCache::MetadataCache(EtcdClient* etcd, const KeyLayout& keys)
    : etcd_(etcd), keys_(keys) {}

MetadataCache::~MetadataCache() { Stop(); }

absl::StatusOr<std::unique_ptr<MetadataCache>> MetadataCache::Start(
    EtcdClient* etcd, const KeyLayout& keys) {
  std::unique_ptr<MetadataCache> c(new MetadataCache(etcd, keys));
  RETURN_IF_ERROR(c->Load());
  c->maintainer_ = std::thread([p = c.get()] { p->Maintain(); });
  return c;
}

absl::Status MetadataCache::Load() {
  ASSIGN_OR_RETURN(RangeResult all, etcd_->GetPrefix(keys_.root()));
  auto s = std::make_shared<ClusterSnapshot>();
  s->revision = all.revision;
  for (KeyValue& kv : all.kvs) {
    WatchEvent e;
    e.type = WatchEvent::Type::kPut;
    e.kv = std::move(kv);
    ApplyOne(*s, e);
  }
  // The watch starts right after the revision that was read, so nothing
  // between the read and the watch is missed.
  WatchCallbacks callbacks;
  callbacks.on_events = [this](std::span<const WatchEvent> events,
                               int64_t rev) { Apply(events, rev); };
  callbacks.on_compacted = [this](int64_t) {
    absl::MutexLock l(&mu_);
    resync_ = true;
  };
  // Publish before the watch can deliver anything newer.
  Publish(s);
  ASSIGN_OR_RETURN(
      std::unique_ptr<Watch> w,
      etcd_->WatchPrefix(keys_.root(), all.revision + 1, std::move(callbacks)));
  std::unique_ptr<Watch> old;
  {
    absl::MutexLock l(&mu_);
    old = std::move(watch_);
    watch_ = std::move(w);
  }
  // The old watch (after a compaction) has ended; stopping only joins it.
  if (old) old->Stop();
  return absl::OkStatus();
}

void MetadataCache::ApplyOne(ClusterSnapshot& s, const WatchEvent& e) {
  const KeyLayout::Parsed k = keys_.Parse(e.kv.key);
  const bool put = e.type == WatchEvent::Type::kPut;
  auto decode_failed = [&](const absl::Status& st) {
    decode_errors_++;
    spdlog::error("cluster metadata: ignoring {} (revision {}): {}", e.kv.key,
                  e.kv.mod_revision, st.message());
  };
  switch (k.kind) {
    case KeyLayout::Parsed::Kind::kBroker: {
      s.brokers.erase(k.node_id);
      if (!put) break;
      auto b = DecodeBroker(e.kv.value);
      if (!b.ok()) {
        decode_failed(b.status());
        break;
      }
      if (b->node_id != k.node_id) {
        decode_failed(absl::DataLossError(
            absl::StrFormat("registration of node %d under the key of node %d",
                            b->node_id, k.node_id)));
        break;
      }
      b->lease = e.kv.lease;
      b->create_revision = e.kv.create_revision;
      s.brokers[k.node_id] = std::move(*b);
      break;
    }
    case KeyLayout::Parsed::Kind::kController: {
      s.controller.reset();
      if (!put) break;
      auto c = DecodeController(e.kv.value);
      if (!c.ok()) {
        decode_failed(c.status());
        break;
      }
      c->epoch = e.kv.create_revision;
      c->lease = e.kv.lease;
      s.controller = *c;
      break;
    }
    case KeyLayout::Parsed::Kind::kTopic: {
      s.topics.erase(k.name);
      if (!put) break;
      auto t = DecodeTopic(e.kv.value);
      if (!t.ok()) {
        decode_failed(t.status());
        break;
      }
      if (t->name != k.name) {
        decode_failed(absl::DataLossError(absl::StrFormat(
            "record of topic '%s' under the key of '%s'", t->name, k.name)));
        break;
      }
      t->mod_revision = e.kv.mod_revision;
      s.topics[k.name] = std::make_shared<const TopicState>(std::move(*t));
      break;
    }
    case KeyLayout::Parsed::Kind::kTopicRequest: {
      s.topic_requests.erase(k.name);
      if (!put) break;
      auto r = DecodeTopicRequest(e.kv.value);
      if (!r.ok()) {
        decode_failed(r.status());
        break;
      }
      r->name = k.name;
      r->mod_revision = e.kv.mod_revision;
      r->lease = e.kv.lease;
      s.topic_requests[k.name] = std::move(*r);
      break;
    }
    case KeyLayout::Parsed::Kind::kProducerIds:
    case KeyLayout::Parsed::Kind::kUnknown:
      break;
  }
}

void MetadataCache::Apply(std::span<const WatchEvent> events,
                          int64_t revision) {
  std::shared_ptr<ClusterSnapshot> next;
  {
    absl::MutexLock l(&mu_);
    next = std::make_shared<ClusterSnapshot>(*snapshot_);
  }
  for (const WatchEvent& e : events) ApplyOne(*next, e);
  next->revision = revision;
  Publish(std::move(next));
}

void MetadataCache::Publish(std::shared_ptr<const ClusterSnapshot> s) {
  absl::MutexLock pl(&listeners_mu_);
  {
    absl::MutexLock l(&mu_);
    snapshot_ = s;
  }
  for (auto& [id, listener] : listeners_) listener(s);
}

void MetadataCache::Maintain() {
  for (;;) {
    {
      absl::MutexLock l(&mu_);
      auto wake = [this] { return stop_ || resync_; };
      mu_.Await(absl::Condition(&wake));
      if (stop_) return;
      resync_ = false;
    }
    absl::Duration backoff = absl::Milliseconds(100);
    for (;;) {
      absl::Status s = Load();
      if (s.ok()) break;
      spdlog::warn("cluster metadata: re-reading after a compaction: {}",
                   s.message());
      absl::MutexLock l(&mu_);
      auto stopped = [this] { return stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopped), backoff);
      if (stop_) return;
      backoff = std::min(backoff * 2, absl::Seconds(2));
    }
  }
}

std::shared_ptr<const ClusterSnapshot> MetadataCache::Snapshot() const {
  absl::MutexLock l(&mu_);
  return snapshot_;
}

int MetadataCache::Subscribe(Listener listener) {
  absl::MutexLock l(&listeners_mu_);
  int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void MetadataCache::Unsubscribe(int id) {
  absl::MutexLock l(&listeners_mu_);
  listeners_.erase(id);
}

std::shared_ptr<const ClusterSnapshot> MetadataCache::WaitFor(
    const std::function<bool(const ClusterSnapshot&)>& pred,
    absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  auto holds = [&] { return snapshot_ != nullptr && pred(*snapshot_); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&holds), timeout)) return nullptr;
  return snapshot_;
}

bool MetadataCache::connected() const {
  absl::MutexLock l(&mu_);
  return watch_ != nullptr && watch_->connected();
}

int64_t MetadataCache::decode_errors() const { return decode_errors_.load(); }

void MetadataCache::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  // First the maintainer (a re-read in progress may still install a new
  // watch), then whichever watch is installed.
  if (maintainer_.joinable()) maintainer_.join();
  std::unique_ptr<Watch> w;
  {
    absl::MutexLock l(&mu_);
    w = std::move(watch_);
  }
  if (w) w->Stop();
}

}  // namespace fjord::cluster
