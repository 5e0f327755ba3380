// build/bin/fjord-broker: a single fjord broker. With no arguments it serves
// the Kafka protocol on 127.0.0.1:9092 and the gRPC admin and coordinator
// services on 127.0.0.1:9093 from ./fjord-data.
#include <csignal>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "asio.hpp"
#include "broker/admin_service.h"
#include "broker/broker_config.h"
#include "broker/cluster_coordinator.h"
#include "broker/cluster_member.h"
#include "broker/coordinator_service.h"
#include "broker/group_commit.h"
#include "broker/grpc_server.h"
#include "broker/kafka_server.h"
#include "broker/metrics.h"
#include "broker/metrics_http.h"
#include "broker/producer_ids.h"
#include "broker/replica_manager.h"
#include "broker/request_handler.h"
#include "broker/topic_manager.h"
#include "log/log_manager.h"
#include "log/strings.h"
#include "spdlog/spdlog.h"

namespace {

int Fail(absl::string_view what) {
  spdlog::error("{}", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using fjord::broker::BrokerConfig;
  CLI::App app{
      "fjord-broker: a partitioned, append-only event log that "
      "speaks the Kafka protocol"};
  std::string config_file, data_dir, kafka_addr, grpc_addr, metrics_addr;
  std::vector<std::string> sets;
  app.add_option("--config", config_file,
                 "Kafka-style properties file (key=value lines)");
  app.add_option("--data-dir", data_dir,
                 "Data directory (default ./fjord-data)");
  app.add_option("--kafka-addr", kafka_addr,
                 "Kafka listener host:port (default 127.0.0.1:9092)");
  app.add_option("--metrics-addr", metrics_addr,
                 "HTTP listener for /metrics, host:port (default "
                 "127.0.0.1:9094; property metrics.address)");
  app.add_option(
      "--grpc-addr", grpc_addr,
      "gRPC (admin, coordinator) listener host:port (default 127.0.0.1:9093; "
      "property grpc.address)");
  app.add_option("--set", sets,
                 "Set any property: --set key=value (repeatable)");
  CLI11_PARSE(app, argc, argv);

  BrokerConfig config;
  if (!config_file.empty()) {
    if (absl::Status s = config.LoadFile(config_file); !s.ok()) {
      return Fail(s.message());
    }
  }
  for (const auto& kv : sets) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      return Fail(absl::StrFormat("--set %s: expected key=value", kv));
    }
    if (absl::Status s = config.Set(kv.substr(0, eq), kv.substr(eq + 1));
        !s.ok()) {
      return Fail(absl::StrFormat("--set %s: %s", kv, s.message()));
    }
  }
  if (!data_dir.empty()) (void)config.Set("log.dirs", data_dir);
  if (!kafka_addr.empty()) {
    if (absl::Status s = config.Set("listeners", kafka_addr); !s.ok()) {
      return Fail(absl::StrFormat("--kafka-addr: %s", s.message()));
    }
  }
  if (!metrics_addr.empty()) {
    if (absl::Status s = config.Set("metrics.address", metrics_addr); !s.ok()) {
      return Fail(absl::StrFormat("--metrics-addr: %s", s.message()));
    }
  }
  if (!grpc_addr.empty()) {
    if (absl::Status s = config.Set("grpc.address", grpc_addr); !s.ok()) {
      return Fail(absl::StrFormat("--grpc-addr: %s", s.message()));
    }
  }
  if (absl::Status s = config.log_defaults.Validate(); !s.ok()) {
    return Fail(s.message());
  }
  if (absl::Status s = config.coordinator.Validate(); !s.ok()) {
    return Fail(s.message());
  }
  if (absl::Status s = config.Validate(); !s.ok()) return Fail(s.message());

  // Cluster mode: reach etcd before touching any data, so a broker that
  // cannot see the cluster does not start (and serves no stale leadership).
  std::unique_ptr<fjord::broker::ClusterMember> cluster;
  if (config.cluster.enabled()) {
    auto member = fjord::broker::ClusterMember::Connect(config);
    if (!member.ok()) {
      return Fail(absl::StrFormat("cluster mode (metadata.etcd.endpoints): %s",
                                  member.status().message()));
    }
    cluster = std::move(*member);
  }

  fjord::log::LogManagerOptions manager_options = config.manager;
  manager_options.data_dir = config.data_dir;
  manager_options.default_config = config.log_defaults;
  fjord::log::StartupReport report;
  auto logs = fjord::log::LogManager::Open(manager_options, &report);
  if (!logs.ok()) return Fail(logs.status().message());
  auto topics = fjord::broker::TopicManager::Open(
      logs->get(), config.log_defaults, config.data_dir);
  if (!topics.ok()) return Fail(topics.status().message());
  // In cluster mode producer-id blocks come from etcd, shared by all.
  auto producer_ids =
      cluster ? std::make_unique<fjord::broker::ProducerIdAllocator>(
                    [m = cluster.get()](int64_t size) {
                      return m->ReserveProducerIds(size);
                    },
                    config.producer_id_block_size)
              : std::make_unique<fjord::broker::ProducerIdAllocator>(
                    fjord::log::PosixFileSystem(),
                    config.data_dir + "/producer-ids",
                    config.producer_id_block_size);
  fjord::broker::GrpcServer grpc(config.grpc_address);
  // Single node: replays __consumer_offsets (created if missing) before
  // anything serves. In a cluster the topic is the cluster's and groups
  // follow the leadership of its partitions (ClusterCoordinator, below).
  std::unique_ptr<fjord::broker::CoordinatorService> coordinator;
  if (!cluster) {
    fjord::coordinator::LoadReport groups_report;
    auto opened = fjord::broker::CoordinatorService::Open(
        &config, topics->get(), &grpc, fjord::log::SystemClock::Get(),
        &groups_report);
    if (!opened.ok()) return Fail(opened.status().message());
    coordinator = std::move(*opened);
    spdlog::info(
        "consumer groups: {} groups, {} committed offsets from {} "
        "records in {} ms",
        groups_report.groups, groups_report.offsets, groups_report.records,
        groups_report.elapsed_ms);
  }
  fjord::broker::Metrics metrics;
  // acks=all: group commit (broker/group_commit.h).
  fjord::broker::GroupCommitter commits(config.group_commit_threads);
  fjord::broker::RequestHandler handler(&config, topics->get(),
                                        producer_ids.get(), &metrics, &commits);
  if (cluster) handler.SetCluster(cluster.get());

  // Run by this thread only (concurrency hint 1); the Kafka server runs
  // the other io threads' contexts itself (broker/kafka_server.h).
  asio::io_context io(1);
  // Cluster mode: replication (leaders, followers, isr, high watermarks).
  std::unique_ptr<fjord::broker::ReplicaManager> replicas;
  if (cluster) {
    fjord::broker::ReplicaManagerOptions ro;
    ro.node_id = config.node_id;
    ro.min_insync_replicas = config.cluster.min_insync_replicas;
    ro.replica_lag_time_max_ms = config.cluster.replica_lag_time_max_ms;
    replicas = std::make_unique<fjord::broker::ReplicaManager>(
        io, topics->get(), cluster.get(), ro);
    handler.SetReplication(replicas.get());
  }
  // Cluster mode: the group coordinator follows __consumer_offsets.
  std::unique_ptr<fjord::broker::ClusterCoordinator> groups_in_cluster;
  if (cluster) {
    groups_in_cluster = std::make_unique<fjord::broker::ClusterCoordinator>(
        &config, topics->get(), cluster.get(), replicas.get());
    handler.SetGroupCoordinator(groups_in_cluster.get());
    coordinator = fjord::broker::CoordinatorService::OpenCluster(
        &config, &grpc, groups_in_cluster.get());
  }
  const int io_threads =
      config.num_io_threads > 0
          ? config.num_io_threads
          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  fjord::broker::KafkaServer server(io, config, &handler, &metrics, io_threads);
  if (absl::Status s = server.Start(); !s.ok()) return Fail(s.message());
  // With port 0 the kernel picked one: that is the one to advertise.
  config.kafka_address.port = server.port();
  spdlog::info(
      "fjord-broker {} serving Kafka on {} (advertised {}), data in {}"
      ", {} topics",
      config.node_id, config.kafka_address.ToString(),
      config.advertised().ToString(), config.data_dir,
      (*topics)->List().size());
  // Started after the Kafka port is final: the admin service reports it.
  fjord::broker::AdminService admin(&config, topics->get(), &grpc,
                                    cluster.get());
  grpc.AddService(admin.service());
  grpc.AddService(coordinator->service());
  if (absl::Status s = grpc.Start(); !s.ok()) {
    server.Stop();
    return Fail(s.message());
  }
  spdlog::info("fjord-broker {} serving gRPC admin and coordinator on {}:{}",
               config.node_id, config.grpc_address.host, grpc.port());
  fjord::broker::TopicManager* topic_manager = topics->get();
  const fjord::broker::CoordinatorService* groups = coordinator.get();
  fjord::broker::MetricsHttpServer metrics_http(
      [&metrics, topic_manager, groups] {
        return metrics.Render([topic_manager, groups](std::string* out) {
          fjord::broker::AppendPartitionGauges(*topic_manager, out);
          fjord::broker::AppendCoordinatorMetrics(groups->Stats(), out);
        });
      });
  if (absl::Status s = metrics_http.Start(config.metrics_address.host,
                                          config.metrics_address.port);
      !s.ok()) {
    server.Stop();
    grpc.Stop();
    return Fail(s.message());
  }
  spdlog::info("fjord-broker {} serving /metrics on http://{}:{}/metrics",
               config.node_id, config.metrics_address.host,
               metrics_http.port());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto shutdown = [&] {
    signals.cancel();
    // No more loads; then fetchers end (so the io_context can), parked
    // acks=all (and commits waiting for the isr) are answered.
    if (groups_in_cluster) groups_in_cluster->Stop();
    if (replicas) replicas->Stop();
    handler.Shutdown();
    server.Stop();
    grpc.Stop();  // before the logs close below
    metrics_http.Stop();
  };
  std::atomic<bool> fatal{false};
  if (cluster) {
    // Registered with the addresses just bound (port 0: the kernel's).
    fjord::broker::HostPort grpc_advertised =
        config.advertised_grpc_address.port != 0
            ? config.advertised_grpc_address
            : fjord::broker::HostPort{config.grpc_address.host, grpc.port()};
    absl::Status s = cluster->Join(
        config.advertised(), grpc_advertised, topics->get(),
        [&](const absl::Status& why) {
          spdlog::error("leaving the cluster and stopping: {}", why.message());
          fatal = true;
          asio::post(io, shutdown);
        });
    if (!s.ok()) {
      shutdown();
      return Fail(absl::StrFormat("cluster mode: %s", s.message()));
    }
    replicas->Start();
    groups_in_cluster->Start();
    spdlog::info(
        "fjord-broker {} joined cluster {} (etcd {}) advertising kafka {} "
        "and grpc {}",
        config.node_id, config.cluster_id,
        absl::StrJoin(config.cluster.etcd_endpoints, ","),
        config.advertised().ToString(), grpc_advertised.ToString());
  }

  signals.async_wait([&](const std::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: finishing in-flight requests and shutting down",
                 signo);
    shutdown();
  });
  std::signal(SIGPIPE, SIG_IGN);

  io.run();
  server.Join();
  // Every request has been answered; nothing waits for a commit any more.
  commits.Stop();
  // Deregisters at once, so the controller moves leadership without
  // waiting for the lease to expire.
  if (cluster) cluster->Leave();

  if (absl::Status s = (*logs)->Close(); !s.ok()) {
    return Fail(absl::StrFormat("shutdown: %s", s.message()));
  }
  if (fatal) return 1;
  spdlog::info("fjord-broker stopped cleanly");
  return 0;
}
