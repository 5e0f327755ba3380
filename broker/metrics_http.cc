#include "broker/metrics_http.h"

#include <sys/socket.h>

#include "absl/strings/str_format.h"
// cpp-httplib sends with flags 0 unless told: a scraper that hangs up
// mid-response would then raise SIGPIPE and kill whatever process embeds
// the broker (fjord-broker ignores SIGPIPE; tests running brokers in
// process do not).
#define CPPHTTPLIB_SEND_FLAGS MSG_NOSIGNAL
#include "httplib.h"

namespace fjord::broker {

MetricsHttpServer::MetricsHttpServer(std::function<std::string()> render)
    : render_(std::move(render)), server_(std::make_unique<httplib::Server>()) {
  server_->Get(
      "/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(render_(), "text/plain; version=0.0.4; charset=utf-8");
      });
}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start(const std::string& host, int port) {
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else {
    port_ = server_->bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0) {
    return absl::UnavailableError(
        absl::StrFormat("cannot listen for /metrics on %s:%d", host, port));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace fjord::broker
