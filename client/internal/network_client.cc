#include "client/internal/network_client.h"

#include "absl/strings/str_format.h"
#include "client/internal/errors.h"

namespace fjord::client::internal {

namespace {
// How often metadata is refreshed without a reason (Kafka's
// metadata.max.age.ms default).
constexpr int64_t kMetadataMaxAgeMs = 5 * 60 * 1000;
}  // namespace

NetworkClient::NetworkClient(CommonConfig config, int max_in_flight,
                             bool allow_auto_topic_creation, Mode mode)
    : config_(std::move(config)),
      max_in_flight_(max_in_flight),
      allow_auto_topic_creation_(allow_auto_topic_creation),
      mode_(mode),
      work_(asio::make_work_guard(io_)),
      tick_(io_),
      reconnect_backoff_(std::max(config_.retry_backoff_ms, 10),
                         config_.retry_backoff_max_ms) {}

NetworkClient::~NetworkClient() { Stop(); }

void NetworkClient::Start() {
  if (mode_ == Mode::kThread) thread_ = std::thread([this] { io_.run(); });
  Post([this] { MaybeUpdateMetadata(); });
}

bool NetworkClient::OnIoThread() const { return guard_.HeldHere(); }

void NetworkClient::Shutdown() {
  stopped_ = true;
  tick_.cancel();
  for (auto& [id, node] : nodes_) {
    if (node.connection) {
      auto c = node.connection;
      c->Close(absl::CancelledError("the client is closing"));
    }
  }
  work_.reset();
}

void NetworkClient::Stop() {
  if (mode_ == Mode::kCaller) {
    if (stopped_) return;
    LoopGuard::Hold hold(&guard_);
    Shutdown();
    io_.poll();  // what the closed connections failed
    io_.stop();
    return;
  }
  if (!thread_.joinable()) return;
  Post([this] {
    Shutdown();
    io_.stop();
  });
  thread_.join();
}

void NetworkClient::Drive(std::chrono::milliseconds timeout) {
  if (stopped_) return;
  LoopGuard::Hold hold(&guard_);
  io_.run_one_for(timeout);
}

void NetworkClient::DriveReady() {
  if (stopped_) return;
  LoopGuard::Hold hold(&guard_);
  io_.poll();
}

Connection* NetworkClient::Ready(int32_t node_id) {
  if (stopped_) return nullptr;
  Node& node = nodes_[node_id];
  if (node.connection &&
      node.connection->state() == Connection::State::kClosed) {
    node.connection.reset();
  }
  if (node.connection) {
    return node.connection->ready() ? node.connection.get() : nullptr;
  }
  const int64_t now = SteadyNowMs();
  if (now < node.retry_at_ms) {
    ScheduleTick(node.retry_at_ms);
    return nullptr;
  }
  std::optional<HostPort> address;
  if (node_id < 0) {
    size_t i = static_cast<size_t>(-node_id - 1);
    if (i < config_.bootstrap_servers.size()) {
      address = config_.bootstrap_servers[i];
    }
  } else if (auto it = metadata_.brokers.find(node_id);
             it != metadata_.brokers.end()) {
    address = it->second;
  }
  if (!address) return nullptr;
  Connect(node_id, *address, &node);
  return nullptr;
}

void NetworkClient::Connect(int32_t node_id, const HostPort& address,
                            Node* node) {
  ConnectionOptions options;
  options.client_id = config_.client_id;
  options.request_timeout_ms = config_.request_timeout_ms;
  options.max_in_flight = max_in_flight_;
  auto c =
      std::make_shared<Connection>(io_, guard(), node_id, address, options);
  node->connection = c;
  c->Start(
      [this, node_id](absl::Status s) {
        if (stopped_) return;
        if (s.ok()) {
          nodes_[node_id].failures = 0;
          MaybeUpdateMetadata();
          Notify();
        }
      },
      [this, node_id](const absl::Status& s) {
        if (stopped_) return;
        Node& n = nodes_[node_id];
        n.failures++;
        n.retry_at_ms = SteadyNowMs() + reconnect_backoff_.DelayMs(n.failures);
        last_error_ = s;
        ScheduleTick(n.retry_at_ms);
        // A broker that went away may no longer lead its partitions.
        if (node_id >= 0) metadata_wanted_ = true;
        // Let the owner see the failure after the requests on the
        // connection have been failed.
        Post([this] {
          if (stopped_) return;
          MaybeUpdateMetadata();
          Notify();
        });
      });
}

void NetworkClient::AddTopic(const std::string& topic) {
  if (topics_.insert(topic).second) RequestMetadataUpdate();
}

void NetworkClient::RemoveTopic(const std::string& topic) {
  topics_.erase(topic);
}

void NetworkClient::RequestMetadataUpdate() {
  metadata_wanted_ = true;
  MaybeUpdateMetadata();
}

void NetworkClient::ScheduleTick(int64_t at_ms) {
  if (stopped_) return;
  const int64_t now = SteadyNowMs();
  if (tick_at_ms_ > now && tick_at_ms_ <= at_ms) return;  // sooner one set
  tick_at_ms_ = at_ms;
  tick_.expires_at(
      std::chrono::steady_clock::time_point(std::chrono::milliseconds(at_ms)));
  tick_.async_wait(Guarded(guard(), [this](const std::error_code& ec) {
    if (ec || stopped_) return;
    tick_at_ms_ = 0;
    if (SteadyNowMs() - last_metadata_request_ms_ > kMetadataMaxAgeMs) {
      metadata_wanted_ = true;
    }
    MaybeUpdateMetadata();
    Notify();
  }));
}

Connection* NetworkClient::AnyReady() {
  if (stopped_) return nullptr;
  const int64_t now = SteadyNowMs();
  // Any ready connection will do: brokers first, then bootstrap servers.
  Connection* conn = nullptr;
  for (auto& [id, node] : nodes_) {
    if (node.connection && node.connection->ready() &&
        (conn == nullptr || (conn->node_id() < 0 && id >= 0))) {
      conn = node.connection.get();
    }
  }
  if (conn == nullptr) {
    // Connect somewhere: a known broker, else the next bootstrap server.
    for (auto& [id, address] : metadata_.brokers) {
      Node& n = nodes_[id];
      if (n.connection && n.connection->state() != Connection::State::kClosed) {
        return nullptr;  // already connecting
      }
      if (now >= n.retry_at_ms) {
        Ready(id);
        return nullptr;
      }
    }
    const int count = static_cast<int>(config_.bootstrap_servers.size());
    for (int i = 0; i < count; i++) {
      const int32_t id = -1 - ((next_bootstrap_ + i) % count);
      Node& n = nodes_[id];
      if (n.connection && n.connection->state() != Connection::State::kClosed) {
        return nullptr;  // already connecting
      }
      if (now >= n.retry_at_ms) {
        next_bootstrap_ = (next_bootstrap_ + i + 1) % count;
        Ready(id);
        return nullptr;
      }
    }
    return nullptr;  // every server is backing off; a tick is scheduled
  }
  return conn;
}

void NetworkClient::MaybeUpdateMetadata() {
  if (stopped_ || !metadata_wanted_ || metadata_in_flight_) return;
  const int64_t now = SteadyNowMs();
  const int64_t earliest = last_metadata_request_ms_ + config_.retry_backoff_ms;
  if (metadata_.version > 0 && now < earliest) {
    ScheduleTick(earliest);
    return;
  }
  Connection* conn = AnyReady();
  if (conn == nullptr) return;
  auto version = conn->Version(kafka::kMetadata, 1, 4);
  if (!version) {
    last_error_ = absl::UnimplementedError(absl::StrFormat(
        "%s supports no Metadata version in [1, 4]", conn->Describe()));
    conn->Close(last_error_);
    return;
  }
  auto frame =
      std::make_unique<OutFrame>(kafka::kMetadata, *version, config_.client_id);
  std::vector<std::string> topics(topics_.begin(), topics_.end());
  EncodeMetadataRequest(*frame, topics, allow_auto_topic_creation_);
  frame->Finish();
  metadata_in_flight_ = true;
  metadata_wanted_ = false;
  last_metadata_request_ms_ = now;
  const int16_t v = *version;
  conn->Send(
      std::move(frame), true, 0, [this, v](absl::Status s, Response resp) {
        metadata_in_flight_ = false;
        if (stopped_) return;
        if (!s.ok()) {
          last_error_ = s;
          metadata_wanted_ = true;
          return;  // the connection's close handler re-runs us
        }
        kafka::Reader r(resp.body);
        kafka::MetadataResponse m;
        if (!DecodeMetadataResponse(r, v, &m)) {
          last_error_ = absl::UnavailableError("malformed Metadata response");
          metadata_wanted_ = true;
          ScheduleTick(SteadyNowMs() + config_.retry_backoff_ms);
          return;
        }
        OnMetadata(m);
        // Asked for again while this one was in flight (a topic added, a
        // leader lost): another one, after the backoff.
        if (metadata_wanted_) MaybeUpdateMetadata();
      });
}

void NetworkClient::OnMetadata(const kafka::MetadataResponse& resp) {
  metadata_.brokers.clear();
  for (const auto& b : resp.brokers) {
    HostPort hp{b.host, static_cast<uint16_t>(b.port)};
    metadata_.brokers[b.node_id] = hp;
    auto it = nodes_.find(b.node_id);
    if (it != nodes_.end() && it->second.connection &&
        it->second.connection->address().ToString() != hp.ToString()) {
      auto c = it->second.connection;
      c->Close(absl::UnavailableError("the broker's address changed"));
    }
  }
  bool incomplete = false;
  for (const auto& t : resp.topics) {
    TopicMetadata& tm = metadata_.topics[t.name];
    tm.error = t.error;
    tm.partitions.clear();
    if (t.error != kErrNone) {
      incomplete = true;
      continue;
    }
    int32_t max_index = -1;
    for (const auto& p : t.partitions) max_index = std::max(max_index, p.index);
    tm.partitions.resize(static_cast<size_t>(max_index + 1));
    for (const auto& p : t.partitions) {
      if (p.index < 0) continue;
      tm.partitions[p.index] = {p.error == kErrNone ? p.leader : -1, p.error};
      if (p.error != kErrNone || p.leader < 0) incomplete = true;
    }
  }
  metadata_.version++;
  last_error_ = absl::OkStatus();
  // Missing leaders or topics: look again after the backoff.
  if (incomplete) {
    metadata_wanted_ = true;
    ScheduleTick(SteadyNowMs() + config_.retry_backoff_ms);
  }
  Notify();
}

}  // namespace fjord::client::internal
