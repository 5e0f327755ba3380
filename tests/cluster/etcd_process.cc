#include "tests/cluster/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

namespace fjord::testing {

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::unique_ptr<EtcdProcess> EtcdProcess::Start(const std::string& dir,
                                                std::string* error) {
  std::unique_ptr<EtcdProcess> p(new EtcdProcess());
  p->dir_ = dir;
  const std::string log = dir + "/etcd.log";
  const std::string data = dir + "/etcd-data";
  pid_t pid = fork();
  if (pid < 0) {
    *error = "fork failed";
    return nullptr;
  }
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    // The member's own peer URL is never dialled in a one-member cluster,
    // so port 0 works for it too.
    execlp("etcd", "etcd", "--name", "default", "--data-dir", data.c_str(),
           "--listen-client-urls", "http://127.0.0.1:0",
           "--advertise-client-urls", "http://127.0.0.1:0",
           "--listen-peer-urls", "http://127.0.0.1:0",
           "--initial-advertise-peer-urls", "http://127.0.0.1:0",
           "--initial-cluster", "default=http://127.0.0.1:0",
           static_cast<char*>(nullptr));
    _exit(127);
  }
  p->pid_ = pid;
  const std::regex serving(
      "serving insecure client requests on 127\\.0\\.0\\.1:([0-9]+)");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string text = ReadAll(log);
    if (std::regex_search(text, m, serving)) {
      p->port_ = std::stoi(m[1]);
      return p;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      *error = "etcd exited at start: " + text;
      return nullptr;
    }
    usleep(50 * 1000);
  }
  *error = "etcd did not start serving within 15 s: " + ReadAll(log);
  return nullptr;
}

EtcdProcess::~EtcdProcess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; i++) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) return;
    usleep(50 * 1000);
  }
  Kill();
}

void EtcdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string EtcdProcess::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

bool EtcdProcess::Compact(int64_t revision) {
  std::string cmd = "etcdctl --endpoints=127.0.0.1:" + std::to_string(port_) +
                    " compact " + std::to_string(revision) + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

EtcdProcess& SharedEtcd() {
  static std::unique_ptr<EtcdProcess> etcd;
  static std::string dir;
  if (!etcd) {
    char tmpl[] = "/tmp/fjord-etcd-XXXXXX";
    const char* base = getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr ? base : "/tmp") + "/fjord-etcd-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    char* made = mkdtemp(buf.data());
    if (made == nullptr) made = mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    dir = made;
    std::string error;
    etcd = EtcdProcess::Start(dir, &error);
    INFO(error);
    REQUIRE(etcd != nullptr);
    // Stopped (by PID) and its directory removed at exit.
    std::atexit([] {
      etcd.reset();
      std::string rm = "rm -rf '" + dir + "'";
      (void)std::system(rm.c_str());
    });
  }
  return *etcd;
}

std::string UniqueClusterName() {
  static std::atomic<int> n{0};
  return "t" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

// -------------------------------------------------------------- TcpProxy

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) ==
          0);
  REQUIRE(listen(listen_fd_, 64) == 0);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  REQUIRE(pipe2(wake_, O_CLOEXEC | O_NONBLOCK) == 0);
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  (void)!write(wake_[1], "x", 1);
  thread_.join();
  CloseAll();
  close(listen_fd_);
  close(wake_[0]);
  close(wake_[1]);
}

std::string TcpProxy::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void TcpProxy::Cut() {
  {
    std::lock_guard<std::mutex> l(mu_);
    cut_ = true;
  }
  (void)!write(wake_[1], "x", 1);
}

void TcpProxy::SetBlackhole(bool on) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (blackhole_ && !on) cut_ = true;
    blackhole_ = on;
  }
  (void)!write(wake_[1], "x", 1);
}

void TcpProxy::CloseAll() {
  for (Pipe& p : pipes_) {
    for (int fd : {p.a, p.b}) {
      linger lg{1, 0};  // reset, as a broken network would
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
      close(fd);
    }
  }
  pipes_.clear();
}

void TcpProxy::Run() {
  char buf[64 * 1024];
  for (;;) {
    bool blackhole;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
      if (cut_) {
        CloseAll();
        cut_ = false;
      }
      blackhole = blackhole_;
    }
    std::vector<pollfd> fds;
    fds.push_back({listen_fd_, POLLIN, 0});
    fds.push_back({wake_[0], POLLIN, 0});
    if (!blackhole) {
      for (const Pipe& p : pipes_) {
        fds.push_back({p.a, POLLIN, 0});
        fds.push_back({p.b, POLLIN, 0});
      }
    }
    if (poll(fds.data(), fds.size(), 1000) < 0) continue;
    if (fds[1].revents & POLLIN) {
      while (read(wake_[0], buf, sizeof(buf)) > 0) {
      }
    }
    if (fds[0].revents & POLLIN) {
      int a = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (a >= 0) {
        int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(target_port_));
        if (connect(b, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
          pipes_.push_back({a, b});
        } else {
          close(a);
          close(b);
        }
      }
    }
    if (blackhole) continue;
    std::vector<size_t> dead;
    for (size_t i = 2; i < fds.size(); i++) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const size_t pi = (i - 2) / 2;
      const Pipe& p = pipes_[pi];
      const int from = fds[i].fd;
      const int to = from == p.a ? p.b : p.a;
      ssize_t n = read(from, buf, sizeof(buf));
      bool ok = n > 0;
      for (ssize_t off = 0; ok && off < n;) {
        ssize_t w = write(to, buf + off, n - off);
        if (w <= 0) {
          ok = false;
        } else {
          off += w;
        }
      }
      if (!ok) dead.push_back(pi);
    }
    std::sort(dead.begin(), dead.end());
    dead.erase(std::unique(dead.begin(), dead.end()), dead.end());
    for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
      close(pipes_[*it].a);
      close(pipes_[*it].b);
      pipes_.erase(pipes_.begin() + *it);
    }
  }
}

}  // namespace fjord::testing
