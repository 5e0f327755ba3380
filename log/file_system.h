// FileSystem: the one small interface all of log/'s file I/O goes through, so
// tests can inject faults (FaultInjectionFileSystem) where production uses
// the POSIX implementation. Modelled on leveldb's Env.
//
// Writes are positional (pwrite); reads of segment and index data go through
// read-only or shared memory mappings. A FileSystem is thread-safe; a File is
// externally synchronized for writes and safe for concurrent reads.
#ifndef FJORD_LOG_FILE_SYSTEM_H_
#define FJORD_LOG_FILE_SYSTEM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fjord::log {

// A memory mapping of [0, size) of a file. Unmapped on destruction; the file
// may be closed or unlinked first. Bytes read past the file's current end
// are a SIGBUS, so callers map only what exists (or was preallocated).
class Mapping {
 public:
  Mapping(uint8_t* data, size_t size, bool writable)
      : data_(data), size_(size), writable_(writable) {}
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  const uint8_t* data() const { return data_; }
  // REQUIRES: mapped writable.
  uint8_t* mutable_data() const { return data_; }
  size_t size() const { return size_; }
  bool writable() const { return writable_; }
  // msync(MS_SYNC) of [offset, offset+len) (rounded out to pages).
  absl::Status Sync(size_t offset, size_t len) const;

 private:
  uint8_t* data_;
  size_t size_;
  bool writable_;
};

class File {
 public:
  virtual ~File() = default;
  // Writes all of `data` at `offset`, or fails. A failure may have written a
  // prefix (a torn write).
  virtual absl::Status Write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Reads up to out.size() bytes at `offset`; returns the count (short at EOF).
  virtual absl::StatusOr<size_t> Read(uint64_t offset,
                                      std::span<uint8_t> out) const = 0;
  // Makes written data durable (fdatasync).
  virtual absl::Status Sync() = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  // Ensures the file is at least `size` bytes, reserving disk blocks where the
  // file system can (fallocate), so later writes below `size` cannot fail
  // for space. kResourceExhausted when the disk is full.
  virtual absl::Status Allocate(uint64_t size) = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
  // Maps [0, length) shared; writable only if the file was opened writable.
  virtual absl::StatusOr<std::unique_ptr<Mapping>> Map(size_t length,
                                                       bool writable) = 0;
  virtual const std::string& path() const = 0;
  // The file's modification time in ms since the epoch, and setting it.
  // fjord records a sealed segment's last append time (broker clock) there.
  virtual absl::StatusOr<int64_t> ModifiedTimeMs() const = 0;
  virtual absl::Status SetModifiedTimeMs(int64_t ms) = 0;
};

// Held while a data directory is in use; released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class OpenMode {
  kReadOnly,       // must exist
  kReadWrite,      // must exist
  kCreate,         // read-write, created if missing
  kCreateExclusive,// read-write, must not exist
  kTruncate,       // read-write, created or emptied
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                                     OpenMode mode) = 0;
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
  virtual absl::Status Remove(const std::string& path) = 0;
  // Removes a directory and everything in it.
  virtual absl::Status RemoveAll(const std::string& path) = 0;
  virtual absl::Status CreateDir(const std::string& path) = 0;  // -p
  // Names (not paths) of the entries in `dir`, unsorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  // fsync of a directory, making creates/renames/removes in it durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // An exclusive advisory lock (flock) on `path`, created if missing, holding
  // this process's pid. kFailedPrecondition, naming the holder's pid, when
  // another process holds it.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> Lock(
      const std::string& path) = 0;

  // Writes `contents` to `path` atomically: a temporary file, fsync, rename,
  // fsync of the directory.
  absl::Status WriteFileAtomically(const std::string& path,
                                   std::string_view contents);
  // Reads a whole (small) file.
  absl::StatusOr<std::string> ReadFile(const std::string& path);
};

// The process-wide POSIX file system. Never destroyed.
FileSystem* PosixFileSystem();

// Maps an errno to a Status naming the operation and path: ENOSPC and EDQUOT
// are kResourceExhausted, ENOENT kNotFound, EEXIST kAlreadyExists, others
// kInternal.
absl::Status ErrnoToStatus(int err, std::string_view op,
                           std::string_view path);

}  // namespace fjord::log

#endif  // FJORD_LOG_FILE_SYSTEM_H_
