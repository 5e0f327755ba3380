// build/bin/fjord-group-bench: consumer groups measured end to end with the
// client library against a running broker (perf/group_bench.sh starts one).
//
//   fjord-group-bench failover --bootstrap B --admin A --mode close|crash
//       [--members 3] [--partitions 12] [--rounds 5] [--session-timeout-ms]
//     One member runs in a child process (this binary, `member`); the
//     others run here while a producer writes to every partition. Each
//     round stops the child (SIGTERM: it closes cleanly, committing and
//     leaving; SIGKILL: a crash) and measures, from that moment, how long
//     until a record of each of its partitions has been consumed by another
//     member. Prints a JSON line per round and one with the medians.
//
//   fjord-group-bench members --bootstrap B --admin A --members N
//       [--seconds 10]
//     N subscribed consumers in this process for that long (to measure
//     the coordinator's heartbeat rate from the broker's /metrics).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "fjord/admin.h"
#include "fjord/consumer.h"
#include "fjord/producer.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Options {
  std::string bootstrap, admin, topic = "group-bench", group = "group-bench";
  std::string mode = "close";
  int members = 3, partitions = 12, rounds = 5, seconds = 10;
  int session_timeout_ms = 6000;
  int produce_interval_us = 1000;
};

fjord::Properties MemberProps(const Options& o) {
  return {{"bootstrap.servers", o.bootstrap},
          {"admin.servers", o.admin},
          {"group.id", o.group},
          {"session.timeout.ms", std::to_string(o.session_timeout_ms)},
          {"auto.offset.reset", "latest"},
          {"fetch.max.wait.ms", "100"}};
}

// ------------------------------------------------------------- member

volatile std::sig_atomic_t stop_member = 0;

// The child: prints "assigned ...", "revoked ...", "lost ..." lines and
// "closed"; closes cleanly on SIGTERM.
class PrintingListener : public fjord::RebalanceListener {
 public:
  void OnPartitionsAssigned(
      const std::vector<fjord::TopicPartition>& p) override {
    Print("assigned", p);
  }
  void OnPartitionsRevoked(
      const std::vector<fjord::TopicPartition>& p) override {
    Print("revoked", p);
  }
  void OnPartitionsLost(const std::vector<fjord::TopicPartition>& p) override {
    Print("lost", p);
  }

 private:
  static void Print(const char* what,
                    const std::vector<fjord::TopicPartition>& ps) {
    std::string line = what;
    for (const auto& tp : ps) line += absl::StrFormat(" %d", tp.partition);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
};

int RunChildMember(const Options& o) {
  std::signal(SIGTERM, [](int) { stop_member = 1; });
  auto consumer = fjord::Consumer::Create(MemberProps(o));
  if (!consumer.ok()) {
    std::fprintf(stderr, "%s\n", consumer.status().ToString().c_str());
    return 1;
  }
  PrintingListener listener;
  if (!(*consumer)->Subscribe({o.topic}, &listener).ok()) return 1;
  while (!stop_member) (void)(*consumer)->Poll(std::chrono::milliseconds(50));
  (*consumer)->Close();
  std::printf("closed\n");
  std::fflush(stdout);
  return 0;
}

// ---------------------------------------------------- in-process members

// A member polling on its own thread; remembers when each partition's
// latest record arrived and what it owns.
class Survivor : public fjord::RebalanceListener {
 public:
  explicit Survivor(const Options& o) {
    auto c = fjord::Consumer::Create(MemberProps(o));
    if (!c.ok()) {
      std::fprintf(stderr, "%s\n", c.status().ToString().c_str());
      std::exit(1);
    }
    consumer_ = *std::move(c);
    if (absl::Status s = consumer_->Subscribe({o.topic}, this); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      std::exit(1);
    }
    thread_ = std::thread([this] {
      while (!stop_) {
        auto polled = consumer_->Poll(std::chrono::milliseconds(20));
        if (!polled.ok()) continue;
        const auto now = Clock::now();
        absl::MutexLock l(&mu_);
        if (now < mark_) continue;
        for (const fjord::ConsumerRecord& r : *polled) {
          first_after_mark_.emplace(r.partition, now);
        }
      }
      consumer_->Close();
    });
  }
  ~Survivor() override {
    stop_ = true;
    thread_.join();
  }
  void OnPartitionsAssigned(
      const std::vector<fjord::TopicPartition>& p) override {
    absl::MutexLock l(&mu_);
    for (const auto& tp : p) owned_.insert(tp.partition);
  }
  void OnPartitionsRevoked(
      const std::vector<fjord::TopicPartition>& p) override {
    absl::MutexLock l(&mu_);
    for (const auto& tp : p) owned_.erase(tp.partition);
  }
  std::set<int32_t> owned() const {
    absl::MutexLock l(&mu_);
    return owned_;
  }
  // From `t` on, remember when the first record of each partition arrives.
  void Mark(Clock::time_point t) {
    absl::MutexLock l(&mu_);
    mark_ = t;
    first_after_mark_.clear();
  }
  std::optional<Clock::time_point> FirstAfterMark(int32_t partition) const {
    absl::MutexLock l(&mu_);
    auto it = first_after_mark_.find(partition);
    if (it == first_after_mark_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::unique_ptr<fjord::Consumer> consumer_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::set<int32_t> owned_ ABSL_GUARDED_BY(mu_);
  Clock::time_point mark_ ABSL_GUARDED_BY(mu_) = Clock::time_point::max();
  std::map<int32_t, Clock::time_point> first_after_mark_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The child member process and what its output says it owns.
class Child {
 public:
  explicit Child(const Options& o) {
    int fds[2];
    if (::pipe(fds) != 0) std::exit(1);
    std::vector<std::string> args = {"fjord-group-bench",
                                     "member",
                                     "--bootstrap",
                                     o.bootstrap,
                                     "--admin",
                                     o.admin,
                                     "--topic",
                                     o.topic,
                                     "--group",
                                     o.group,
                                     "--session-timeout-ms",
                                     std::to_string(o.session_timeout_ms)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    if (posix_spawn(&pid_, "/proc/self/exe", &actions, nullptr, argv.data(),
                    environ) != 0) {
      std::exit(1);
    }
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    fd_ = fds[0];
    reader_ = std::thread([this] { Read(); });
  }
  ~Child() {
    if (pid_ > 0) Signal(SIGKILL);
    reader_.join();
    ::close(fd_);
  }
  void Signal(int sig) {
    ::kill(pid_, sig);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  std::set<int32_t> owned() const {
    absl::MutexLock l(&mu_);
    return owned_;
  }

 private:
  void Read() {
    std::string buf;
    char chunk[4096];
    ssize_t n;
    while ((n = ::read(fd_, chunk, sizeof(chunk))) > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        std::vector<std::string> words =
            absl::StrSplit(buf.substr(0, nl), ' ', absl::SkipEmpty());
        buf.erase(0, nl + 1);
        if (words.empty()) continue;
        absl::MutexLock l(&mu_);
        for (size_t i = 1; i < words.size(); i++) {
          const int32_t p = std::stoi(words[i]);
          if (words[0] == "assigned") {
            owned_.insert(p);
          } else {
            owned_.erase(p);
          }
        }
      }
    }
  }
  pid_t pid_ = -1;
  int fd_ = -1;
  mutable absl::Mutex mu_;
  std::set<int32_t> owned_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds t) {
  const auto deadline = Clock::now() + t;
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int RunFailover(const Options& o) {
  auto admin = fjord::Admin::Create({{"admin.servers", o.admin}});
  if (!admin.ok()) return 1;
  fjord::NewTopic t;
  t.name = o.topic;
  t.partitions = o.partitions;
  auto created = (*admin)->CreateTopic(t);
  if (!created.ok() && !absl::IsAlreadyExists(created.status())) {
    std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
    return 1;
  }
  auto producer = fjord::Producer::Create(
      {{"bootstrap.servers", o.bootstrap}, {"linger.ms", "0"}});
  if (!producer.ok()) return 1;
  std::atomic<bool> stop{false};
  std::thread produce([&] {
    for (int64_t n = 0; !stop; n++) {
      fjord::ProducerRecord r;
      r.topic = o.topic;
      r.partition = static_cast<int32_t>(n % o.partitions);
      r.value = "x";
      (*producer)->Send(r, nullptr);
      std::this_thread::sleep_for(
          std::chrono::microseconds(o.produce_interval_us));
    }
  });
  std::vector<std::unique_ptr<Survivor>> survivors;
  for (int i = 1; i < o.members; i++) {
    survivors.push_back(std::make_unique<Survivor>(o));
  }
  std::vector<double> all_ms, first_ms;
  for (int round = 0; round < o.rounds; round++) {
    auto child = std::make_unique<Child>(o);
    // Stable: every partition owned once, the child owning some.
    const bool stable = WaitFor(
        [&] {
          std::set<int32_t> seen;
          size_t total = 0;
          auto c = child->owned();
          if (c.empty()) return false;
          seen.insert(c.begin(), c.end());
          total += c.size();
          for (const auto& s : survivors) {
            auto mine = s->owned();
            seen.insert(mine.begin(), mine.end());
            total += mine.size();
          }
          return static_cast<int>(seen.size()) == o.partitions &&
                 static_cast<int>(total) == o.partitions;
        },
        std::chrono::seconds(60));
    if (!stable) {
      std::fprintf(stderr, "round %d: the group did not settle\n", round);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const std::set<int32_t> victim = child->owned();
    const auto t0 = Clock::now();
    for (const auto& s : survivors) s->Mark(t0);
    child->Signal(o.mode == "crash" ? SIGKILL : SIGTERM);
    std::map<int32_t, Clock::time_point> first_elsewhere;
    const bool moved = WaitFor(
        [&] {
          for (int32_t p : victim) {
            if (first_elsewhere.count(p)) continue;
            for (const auto& s : survivors) {
              auto at = s->FirstAfterMark(p);
              if (at &&
                  (!first_elsewhere.count(p) || *at < first_elsewhere[p])) {
                first_elsewhere[p] = *at;
              }
            }
          }
          return first_elsewhere.size() == victim.size();
        },
        std::chrono::milliseconds(o.session_timeout_ms + 30000));
    if (!moved) {
      std::fprintf(stderr, "round %d: partitions not consumed elsewhere\n",
                   round);
      return 1;
    }
    double last = 0, first = 1e18;
    for (const auto& [p, at] : first_elsewhere) {
      last = std::max(last, MsBetween(t0, at));
      first = std::min(first, MsBetween(t0, at));
    }
    all_ms.push_back(last);
    first_ms.push_back(first);
    std::printf(
        "{\"mode\":\"%s\",\"round\":%d,\"partitions_moved\":%zu,"
        "\"first_consumed_elsewhere_ms\":%.1f,\"all_consumed_elsewhere_ms\":"
        "%.1f}\n",
        o.mode.c_str(), round, victim.size(), first, last);
    std::fflush(stdout);
    child.reset();
    // The survivors give the child's partitions back to the next one.
  }
  std::printf(
      "{\"mode\":\"%s\",\"members\":%d,\"partitions\":%d,\"session_timeout_"
      "ms\":%d,\"rounds\":%d,\"median_first_ms\":%.1f,\"median_all_ms\":%.1f,"
      "\"max_all_ms\":%.1f}\n",
      o.mode.c_str(), o.members, o.partitions, o.session_timeout_ms, o.rounds,
      Median(first_ms), Median(all_ms),
      *std::max_element(all_ms.begin(), all_ms.end()));
  stop = true;
  produce.join();
  survivors.clear();
  (void)(*producer)->Flush(std::chrono::seconds(10));
  return 0;
}

int RunMembers(const Options& o) {
  auto admin = fjord::Admin::Create({{"admin.servers", o.admin}});
  if (!admin.ok()) return 1;
  fjord::NewTopic t;
  t.name = o.topic;
  t.partitions = o.partitions;
  (void)(*admin)->CreateTopic(t);
  std::vector<std::unique_ptr<Survivor>> members;
  for (int i = 0; i < o.members; i++) {
    members.push_back(std::make_unique<Survivor>(o));
  }
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));
  size_t owned = 0;
  for (const auto& m : members) owned += m->owned().size();
  members.clear();
  std::printf("{\"members\":%d,\"seconds\":%d,\"partitions_owned\":%zu}\n",
              o.members, o.seconds, owned);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fjord consumer groups, end to end"};
  app.require_subcommand(1);
  Options o;
  auto common = [&](CLI::App* c) {
    c->add_option("--bootstrap", o.bootstrap)->required();
    c->add_option("--admin", o.admin)->required();
    c->add_option("--topic", o.topic);
    c->add_option("--group", o.group);
    c->add_option("--partitions", o.partitions);
    c->add_option("--members", o.members);
    c->add_option("--session-timeout-ms", o.session_timeout_ms);
  };
  CLI::App* failover = app.add_subcommand("failover", "leave -> consumed");
  common(failover);
  failover->add_option("--mode", o.mode)
      ->check(CLI::IsMember({"close", "crash"}));
  failover->add_option("--rounds", o.rounds);
  failover->add_option("--produce-interval-us", o.produce_interval_us);
  CLI::App* members = app.add_subcommand("members", "N members for a while");
  common(members);
  members->add_option("--seconds", o.seconds);
  CLI::App* member = app.add_subcommand("member", "one member (internal)");
  common(member);
  CLI11_PARSE(app, argc, argv);
  if (*failover) {
    if (o.members < 2) {
      std::fprintf(stderr, "--members: at least 2\n");
      return 2;
    }
    return RunFailover(o);
  }
  if (*members) return RunMembers(o);
  return RunChildMember(o);
}
