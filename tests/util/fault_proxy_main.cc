// build/bin/fjord-fault-proxy: the FaultProxy (tests/util/fault_proxy.h) as
// a process, for shell tests. Prints "fjord-fault-proxy listening on
// HOST:PORT" once it listens, runs until SIGINT or SIGTERM, then prints its
// counters and exits 0.
//
//   fjord-fault-proxy --listen 127.0.0.1:0 --target 127.0.0.1:9092
//       --drop-response-every 20 --reset-probability 0.01 --seed 7
//   (one command line)
#include <signal.h>

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "tests/util/fault_proxy.h"

namespace {

bool SplitHostPort(const std::string& s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  uint32_t p;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(s.substr(colon + 1), &p) || p > 65535) {
    return false;
  }
  *host = s.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fjord-fault-proxy: a Kafka-frame TCP proxy that drops responses, "
      "resets connections and delays, for tests"};
  std::string listen = "127.0.0.1:0", target, target_file;
  fjord::testing::FaultOptions f;
  app.add_option("--listen", listen, "host:port to listen on (port 0: any)");
  app.add_option("--target", target, "host:port to forward to");
  app.add_option("--target-file", target_file,
                 "file holding host:port, read for each new connection (a "
                 "missing file: connections are closed)");
  app.add_option("--drop-response-every", f.drop_response_every,
                 "drop every Nth response (close the connection instead)");
  app.add_option("--drop-response-probability", f.drop_response_probability,
                 "drop each response with this probability");
  app.add_option("--reset-every", f.reset_every,
                 "reset the connection instead of forwarding every Nth "
                 "request");
  app.add_option("--reset-probability", f.reset_probability,
                 "reset instead of forwarding each request with this "
                 "probability");
  app.add_option("--delay-ms", f.delay_ms, "delay responses by this much");
  app.add_option("--delay-probability", f.delay_probability,
                 "delay each response with this probability (default 1)");
  app.add_option("--grace-requests", f.grace_requests,
                 "forward this many requests before any fault");
  app.add_option("--seed", f.seed, "seed of the random draws");
  CLI11_PARSE(app, argc, argv);

  std::string host;
  uint16_t port;
  if (!SplitHostPort(listen, &host, &port)) {
    std::fprintf(stderr, "--listen %s: expected host:port\n", listen.c_str());
    return 2;
  }
  fjord::testing::FaultProxy proxy(f);
  if (!target.empty()) {
    std::string th;
    uint16_t tp;
    if (!SplitHostPort(target, &th, &tp)) {
      std::fprintf(stderr, "--target %s: expected host:port\n", target.c_str());
      return 2;
    }
    proxy.SetTarget(th, tp);
  } else if (!target_file.empty()) {
    proxy.SetTargetFile(target_file);
  } else {
    std::fprintf(stderr, "one of --target or --target-file is required\n");
    return 2;
  }
  // Signals are taken synchronously below; block them before the proxy's
  // thread starts so it inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (absl::Status s = proxy.Start(host, port); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("fjord-fault-proxy listening on %s:%d\n", host.c_str(),
              proxy.port());
  std::fflush(stdout);
  int signo = 0;
  sigwait(&signals, &signo);
  proxy.Stop();
  const auto st = proxy.stats();
  std::printf(
      "fjord-fault-proxy stats: connections=%lld refused=%lld requests=%lld "
      "responses=%lld dropped_responses=%lld resets=%lld delayed=%lld\n",
      static_cast<long long>(st.connections),
      static_cast<long long>(st.refused), static_cast<long long>(st.requests),
      static_cast<long long>(st.responses),
      static_cast<long long>(st.dropped_responses),
      static_cast<long long>(st.resets), static_cast<long long>(st.delayed));
  return 0;
}
