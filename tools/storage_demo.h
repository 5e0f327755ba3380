// `fjord storage-demo`: drives the storage engine end to end in one process
// (append, flush, clean close, reopen, read back and check every record) and
// prints what it measured. The main job until the broker exists.
#ifndef FJORD_TOOLS_STORAGE_DEMO_H_
#define FJORD_TOOLS_STORAGE_DEMO_H_

#include <cstdint>
#include <string>

namespace fjord::tools {

struct StorageDemoOptions {
  std::string data_dir = "./fjord-data";
  std::string topic = "demo";
  int64_t records = 1'000'000;
  int record_size = 100;
  int batch_records = 1000;
  std::string compression = "none";
};

// Returns a process exit code: 0 when every record read back is exactly the
// one appended.
int RunStorageDemo(const StorageDemoOptions& options);

}  // namespace fjord::tools

#endif  // FJORD_TOOLS_STORAGE_DEMO_H_
