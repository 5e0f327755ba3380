// FaultInjectionFileSystem wraps another FileSystem and can simulate the
// failures a log must survive: a full disk (ENOSPC), a write torn at a chosen
// byte followed by a crash, failing fsyncs, and the loss of everything not
// yet synced when the machine dies (leveldb's fault_injection_test model).
//
// It tracks, per file path, the size at the last Sync and the byte ranges
// written since; DropUnsyncedData() zeroes those ranges and cuts each file
// back to its synced size, which is what a power loss leaves behind on a
// preallocating file system. Memory-mapped writes bypass it (indexes are
// rebuilt or sanity-checked on recovery, so tests corrupt them directly).
// Thread-safe.
#ifndef FJORD_LOG_FAULT_INJECTION_FILE_SYSTEM_H_
#define FJORD_LOG_FAULT_INJECTION_FILE_SYSTEM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "log/file_system.h"

namespace fjord::log {

class FaultInjectionFileSystem final : public FileSystem {
 public:
  // `base` must outlive this object.
  explicit FaultInjectionFileSystem(FileSystem* base);

  // While set, Write and Allocate fail with kResourceExhausted, writing
  // nothing.
  void SetDiskFull(bool full);
  // The write that crosses `bytes` more bytes from now writes only up to
  // that byte and fails; the file system is then "crashed": every later
  // write and sync fails until Reset().
  void TearWriteAfter(uint64_t bytes);
  // The write that crosses `bytes` more bytes from now writes only up to
  // that byte and fails with kResourceExhausted; unlike TearWriteAfter the
  // machine keeps running (a disk that filled up mid-write).
  void FailWriteAfter(uint64_t bytes);
  // While set, Sync fails with kInternal (an EIO from fsync).
  void SetSyncFails(bool fails);
  // While blocked, every Sync waits, having begun (the writes it covers
  // are those completed before it), until UnblockSyncs: a slow disk, for
  // tests of what goes on while a flush waits.
  void BlockSyncs();
  void UnblockSyncs();
  // Syncs waiting in BlockSyncs now.
  int blocked_syncs() const;
  // After `n` more mutating operations (create, write, sync, truncate,
  // allocate, rename, remove, directory sync) the file system is "crashed":
  // that operation and every later one fails until Reset(). Lets a test
  // stop a multi-step protocol at each step in turn.
  void CrashAfterOperations(uint64_t n);
  // Mutating operations performed so far.
  uint64_t operations() const;
  // Simulates power loss: zeroes bytes written since each file's last Sync
  // and truncates files back to their synced sizes.
  absl::Status DropUnsyncedData();
  // Clears every injected fault and the crashed state.
  void Reset();

  bool crashed() const;
  uint64_t bytes_written() const;
  uint64_t syncs() const;

  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                             OpenMode mode) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RemoveAll(const std::string& path) override;
  absl::Status CreateDir(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) override;
  bool Exists(const std::string& path) override;
  bool IsDirectory(const std::string& path) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::StatusOr<std::unique_ptr<FileLock>> Lock(
      const std::string& path) override;

 private:
  friend class FaultFile;
  struct Range {
    uint64_t begin, end;  // [begin, end)
    uint64_t seq;         // write order, file system wide
  };
  struct FileState {
    uint64_t synced_size = 0;
    std::vector<Range> unsynced;
  };

  // Called by FaultFile. Returns how many bytes of `n` may be written now
  // and the status to return after writing them.
  absl::Status BeforeWrite(const std::string& path, uint64_t offset, uint64_t n,
                           uint64_t* allowed);
  // Records [offset, offset + n) as written and not yet synced, once the
  // write has completed.
  void AfterWrite(const std::string& path, uint64_t offset, uint64_t n);
  absl::Status BeforeAllocate();
  // A sync covers the writes that completed before it began (writes
  // racing with it are counted as unsynced): BeforeSync returns the write
  // sequence number at its start, which AfterSync takes back.
  absl::StatusOr<uint64_t> BeforeSync();
  // Counts one mutating operation; fails once the crash point is reached.
  absl::Status CountOperation();
  void WaitWhileSyncsBlocked();
  absl::Status SyncFailure();  // kInternal while SetSyncFails
  void AfterSync(const std::string& path, uint64_t size, uint64_t seq);
  void Track(const std::string& path, uint64_t size_now);

  FileSystem* const base_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  bool disk_full_ ABSL_GUARDED_BY(mu_) = false;
  bool sync_fails_ ABSL_GUARDED_BY(mu_) = false;
  bool syncs_blocked_ ABSL_GUARDED_BY(mu_) = false;
  int blocked_syncs_ ABSL_GUARDED_BY(mu_) = 0;
  bool crashed_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<uint64_t> tear_after_ ABSL_GUARDED_BY(mu_);
  bool tear_crashes_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t bytes_written_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t operations_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t write_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<uint64_t> crash_after_ops_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fjord::log

#endif  // FJORD_LOG_FAULT_INJECTION_FILE_SYSTEM_H_
