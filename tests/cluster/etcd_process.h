// Test helpers for the cluster tests: a real etcd process on loopback, and
// a TCP proxy that can cut, black-hole or refuse the connections through
// it (a network fault between a client and etcd, made on demand).
// Not thread-safe unless stated.
#ifndef FJORD_TESTS_CLUSTER_ETCD_PROCESS_H_
#define FJORD_TESTS_CLUSTER_ETCD_PROCESS_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fjord::testing {

// etcd (Debian's /usr/bin/etcd) with its data in `dir`, listening on
// 127.0.0.1 ports chosen by the kernel (port 0; the client port is parsed
// from etcd's log). Stopped by PID on destruction.
class EtcdProcess {
 public:
  // Starts etcd and waits (up to 15 s) until it serves clients. Returns
  // nullptr (with the reason in *error) if it does not come up.
  static std::unique_ptr<EtcdProcess> Start(const std::string& dir,
                                            std::string* error);
  ~EtcdProcess();

  int port() const { return port_; }
  std::string endpoint() const;  // http://127.0.0.1:<port>
  pid_t pid() const { return pid_; }
  // SIGKILL and reap.
  void Kill();
  // Compacts etcd's history up to `revision` (through etcdctl); true on
  // success.
  bool Compact(int64_t revision);

 private:
  EtcdProcess() = default;
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// One etcd shared by the tests of this binary that do not hurt it (each
// uses its own cluster name), started on first use. Fails the test if etcd
// does not start.
EtcdProcess& SharedEtcd();

// A unique cluster name for a test ("t<pid>-<n>").
std::string UniqueClusterName();

// Forwards connections from 127.0.0.1:port() to 127.0.0.1:target_port on
// its own thread. Thread-safe controls.
class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  std::string endpoint() const;  // http://127.0.0.1:<port>

  // Resets every open connection (new ones are accepted normally).
  void Cut();
  // On: nothing is forwarded any more in either direction and connections
  // are kept open (a silent network partition); new connections are
  // accepted and also stall. Off: forwarding resumes for new connections
  // (stalled ones are reset).
  void SetBlackhole(bool on);

 private:
  struct Pipe {
    int a = -1;  // client side
    int b = -1;  // etcd side
  };
  void Run();
  void CloseAll();

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::mutex mu_;
  std::vector<Pipe> pipes_;
  bool cut_ = false;
  bool blackhole_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace fjord::testing

#endif  // FJORD_TESTS_CLUSTER_ETCD_PROCESS_H_
