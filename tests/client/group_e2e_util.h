// Helpers for the consumer group end-to-end tests: a broker with short
// group timeouts, consumers that run their Poll loop on a thread of their
// own and record what they were given and what they consumed, members in
// child processes (the group consumer example) that a test can SIGKILL,
// and a producer that writes unique ids at a steady pace.
//
// Thread safety: GroupConsumer and SteadyProducer are thread-safe (their
// accessors lock); ChildMember is not. Catch2 assertions are made only on
// the test's thread.
#ifndef FJORD_TESTS_CLIENT_GROUP_E2E_UTIL_H_
#define FJORD_TESTS_CLIENT_GROUP_E2E_UTIL_H_

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "catch2/catch.hpp"
#include "fjord/admin.h"
#include "tests/client/e2e_util.h"

extern char** environ;

namespace fjord::testing {

using GroupClock = std::chrono::steady_clock;

inline int64_t MsBetween(GroupClock::time_point a, GroupClock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// Polls `done` every 20 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& done,
                    std::chrono::milliseconds timeout) {
  const auto deadline = GroupClock::now() + timeout;
  while (GroupClock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// Session timeouts down to 100 ms, heartbeats every 100 ms, a small
// __consumer_offsets, idle groups checked every 20 ms.
inline std::vector<std::string> GroupBrokerArgs(int partitions) {
  return {"--set", absl::StrFormat("num.partitions=%d", partitions),
          "--set", "group.min.session.timeout.ms=100",
          "--set", "group.consumer.heartbeat.interval.ms=100",
          "--set", "group.coordinator.timer.interval.ms=20",
          "--set", "offsets.topic.num.partitions=3"};
}

// Consumer properties for a member of `group` on `broker`.
inline Properties GroupProps(const TestBroker& broker, const std::string& group,
                             Properties extra = {}) {
  Properties p = {{"bootstrap.servers", broker.process->bootstrap()},
                  {"admin.servers", broker.process->admin()},
                  {"group.id", group},
                  {"session.timeout.ms", "1000"},
                  {"auto.offset.reset", "earliest"},
                  {"fetch.max.wait.ms", "100"},
                  {"auto.commit.interval.ms", "200"}};
  for (auto& [k, v] : extra) p[k] = v;
  return p;
}

inline std::set<TopicPartition> AllPartitions(const std::string& topic,
                                              int partitions) {
  std::set<TopicPartition> out;
  for (int p = 0; p < partitions; p++) out.insert({topic, p});
  return out;
}

// What every consumer of a test processed: value -> times processed.
class Ledger {
 public:
  void Add(const std::string& value) {
    absl::MutexLock l(&mu_);
    counts_[value]++;
  }
  std::map<std::string, int> counts() const {
    absl::MutexLock l(&mu_);
    return counts_;
  }
  size_t distinct() const {
    absl::MutexLock l(&mu_);
    return counts_.size();
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
};

// A subscribed Consumer whose Poll loop runs on its own thread; rebalance
// callbacks and records are recorded with the time they happened. With
// `commit_on_revoke` it commits, from OnPartitionsRevoked, the offsets of
// the records of the revoked partitions it processed (for use with
// enable.auto.commit=false: the application's own commit on revoke).
class GroupConsumer : public RebalanceListener {
 public:
  struct Event {
    enum Kind { kAssigned, kRevoked, kLost } kind;
    std::vector<TopicPartition> partitions;
    GroupClock::time_point at;
  };
  struct Consumed {
    TopicPartition partition;
    int64_t offset;
    GroupClock::time_point at;
  };

  GroupConsumer(Properties props, std::vector<std::string> topics,
                Ledger* ledger = nullptr, bool commit_on_revoke = false)
      : ledger_(ledger), commit_on_revoke_(commit_on_revoke) {
    auto c = Consumer::Create(props);
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    consumer_ = *std::move(c);
    REQUIRE(consumer_->Subscribe(topics, this).ok());
    thread_ = std::thread([this] { Loop(); });
  }
  ~GroupConsumer() override { Stop(); }

  // Close()s the consumer on its thread (revoke, commit, leave), then
  // joins it.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::set<TopicPartition> owned() const {
    absl::MutexLock l(&mu_);
    return owned_;
  }
  std::vector<Event> events() const {
    absl::MutexLock l(&mu_);
    return events_;
  }
  std::vector<Consumed> consumed() const {
    absl::MutexLock l(&mu_);
    return consumed_;
  }
  GroupMemberMetadata metadata() const {
    absl::MutexLock l(&mu_);
    return metadata_;
  }
  // Poll errors (none expected unless a test provokes them).
  std::vector<absl::Status> errors() const {
    absl::MutexLock l(&mu_);
    return errors_;
  }

  void OnPartitionsAssigned(const std::vector<TopicPartition>& ps) override {
    absl::MutexLock l(&mu_);
    owned_.insert(ps.begin(), ps.end());
    events_.push_back({Event::kAssigned, ps, GroupClock::now()});
  }
  void OnPartitionsRevoked(const std::vector<TopicPartition>& ps) override {
    OffsetMap processed;
    {
      absl::MutexLock l(&mu_);
      for (const auto& tp : ps) {
        owned_.erase(tp);
        auto it = processed_.find(tp);
        if (it == processed_.end()) continue;
        processed[tp] = {it->second, "revoked"};
        processed_.erase(it);
      }
      events_.push_back({Event::kRevoked, ps, GroupClock::now()});
    }
    if (!commit_on_revoke_ || processed.empty()) return;
    absl::Status committed = consumer_->Commit(processed);
    absl::MutexLock l(&mu_);
    if (committed.ok()) {
      commits_on_revoke_++;
    } else {
      errors_.push_back(committed);
    }
  }
  void OnPartitionsLost(const std::vector<TopicPartition>& ps) override {
    absl::MutexLock l(&mu_);
    for (const auto& tp : ps) {
      owned_.erase(tp);
      processed_.erase(tp);
    }
    events_.push_back({Event::kLost, ps, GroupClock::now()});
  }
  // How many commits OnPartitionsRevoked made (with `commit_on_revoke`).
  int commits_on_revoke() const {
    absl::MutexLock l(&mu_);
    return commits_on_revoke_;
  }

 private:
  void Loop() {
    while (!stop_) {
      auto polled = consumer_->Poll(std::chrono::milliseconds(50));
      const auto now = GroupClock::now();
      absl::MutexLock l(&mu_);
      metadata_ = consumer_->GroupMetadata();
      if (!polled.ok()) {
        errors_.push_back(polled.status());
        continue;
      }
      for (const ConsumerRecord& r : *polled) {
        TopicPartition tp{std::string(r.topic), r.partition};
        processed_[tp] = r.offset + 1;
        consumed_.push_back({std::move(tp), r.offset, now});
        if (ledger_ != nullptr && r.value) ledger_->Add(std::string(*r.value));
      }
    }
    consumer_->Close();
  }

  Ledger* const ledger_;
  const bool commit_on_revoke_;
  std::unique_ptr<Consumer> consumer_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::set<TopicPartition> owned_ ABSL_GUARDED_BY(mu_);
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
  std::vector<Consumed> consumed_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> errors_ ABSL_GUARDED_BY(mu_);
  // Next offset to commit of each owned partition's processed records.
  std::map<TopicPartition, int64_t> processed_ ABSL_GUARDED_BY(mu_);
  int commits_on_revoke_ ABSL_GUARDED_BY(mu_) = 0;
  GroupMemberMetadata metadata_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// A member in a child process: build/bin/fjord-example-group-consumer,
// whose output (one line per event: "assigned t-0 t-3", "revoked ...",
// "lost ...", "record t-0 17 value", "closed") goes to a file. Killed
// (SIGKILL) by the destructor if still running; stopped by its PID only.
class ChildMember {
 public:
  ChildMember(const TestBroker& broker, const std::string& group,
              const std::string& topic, const std::string& out_path,
              const Properties& extra) {
    std::vector<std::string> args = {FJORD_GROUP_CONSUMER_PATH,
                                     broker.process->bootstrap(), group, topic};
    Properties p = GroupProps(broker, group, extra);
    for (const auto& [k, v] : p) {
      if (k == "bootstrap.servers" || k == "group.id") continue;
      args.push_back(k + "=" + v);
    }
    out_path_ = out_path;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int rc =
        posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
  }
  ~ChildMember() { Kill(); }
  ChildMember(const ChildMember&) = delete;
  ChildMember& operator=(const ChildMember&) = delete;

  // A crash: no revocation, no commit, no leave, no more heartbeats.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // SIGTERM: the example closes cleanly (revokes, commits, leaves). Returns
  // its exit status, or -1 if it had to be killed after 10 s.
  int Terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const auto deadline = GroupClock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (GroupClock::now() > deadline) {
        Kill();
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string Output() const {
    std::ifstream in(out_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // What it owns according to its assigned/revoked/lost lines.
  std::set<TopicPartition> Owned() const {
    std::set<TopicPartition> owned;
    for (absl::string_view line : absl::StrSplit(Output(), '\n')) {
      std::vector<std::string> words = absl::StrSplit(line, ' ');
      if (words.empty()) continue;
      const bool add = words[0] == "assigned";
      if (!add && words[0] != "revoked" && words[0] != "lost") continue;
      for (size_t i = 1; i < words.size(); i++) {
        const size_t dash = words[i].rfind('-');
        if (dash == std::string::npos) continue;
        TopicPartition tp{words[i].substr(0, dash),
                          std::stoi(words[i].substr(dash + 1))};
        if (add) {
          owned.insert(tp);
        } else {
          owned.erase(tp);
        }
      }
    }
    return owned;
  }

 private:
  std::string out_path_;
  pid_t pid_ = -1;
};

// Produces "<prefix>-<n>" values, n = 0, 1, 2, ..., round-robin over
// `partitions` partitions of `topic`, one about every `every`, until
// Stop(); acknowledged() holds the values the broker acknowledged.
class SteadyProducer {
 public:
  SteadyProducer(const TestBroker& broker, std::string topic, int partitions,
                 std::chrono::microseconds every, std::string prefix = "id")
      : topic_(std::move(topic)) {
    auto p = Producer::Create(broker.Producer({{"linger.ms", "1"}}));
    INFO(p.status().ToString());
    REQUIRE(p.ok());
    producer_ = *std::move(p);
    thread_ = std::thread([this, partitions, every, prefix] {
      for (int64_t n = 0; !stop_; n++) {
        std::string value = absl::StrFormat("%s-%d", prefix, n);
        ProducerRecord r;
        r.topic = topic_;
        r.partition = static_cast<int32_t>(n % partitions);
        r.value = value;
        producer_->Send(
            r, [this, value](const absl::Status& s, const RecordMetadata&) {
              absl::MutexLock l(&mu_);
              if (s.ok()) {
                acked_.insert(value);
              } else {
                failed_++;
              }
            });
        std::this_thread::sleep_for(every);
      }
      (void)producer_->Flush(std::chrono::seconds(10));
    });
  }
  ~SteadyProducer() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> acknowledged() const {
    absl::MutexLock l(&mu_);
    return acked_;
  }
  int failed() const {
    absl::MutexLock l(&mu_);
    return failed_;
  }

 private:
  const std::string topic_;
  std::unique_ptr<Producer> producer_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::set<std::string> acked_ ABSL_GUARDED_BY(mu_);
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

// Creates `topic` with `partitions` partitions, or fails the test.
inline void CreateTopic(const TestBroker& broker, const std::string& topic,
                        int partitions) {
  auto admin = Admin::Create({{"admin.servers", broker.process->admin()}});
  REQUIRE(admin.ok());
  NewTopic t;
  t.name = topic;
  t.partitions = partitions;
  auto created = (*admin)->CreateTopic(t);
  INFO(created.status().ToString());
  REQUIRE(created.ok());
}

}  // namespace fjord::testing

#endif  // FJORD_TESTS_CLIENT_GROUP_E2E_UTIL_H_
