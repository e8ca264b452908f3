// EmbeddedBroker: the Broker on one machine. Scheduling state lives in memory
// (JobIndex, one mutex); RocksDB is the store of record, written through one
// GroupCommitter so that concurrent requests share an fsync. A request's
// callback runs only after its write is durable, and waiters are notified
// only then, so nobody sees a change that a crash could take back.
//
// At start-up the memory state is rebuilt from RocksDB. One timer thread
// applies run_at, lease expiry, deadlines and retention. After a write the
// disk refused, writes are refused, reads go on, and the timer thread
// brings writing back once the disk works (write_recovery.cpp).
//
// Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "engine/broker.hpp"
#include "store/embedded/group_commit.hpp"

namespace rocksdb {
class FileSystem;
}

namespace errand::embedded {

struct EmbeddedOptions {
  std::string data_dir = "./errand-data";
  Durability durability = Durability::kFsync;
  Millis retention_ms = 7LL * 24 * 3600 * 1000;
  // A queued job says waiting_on `no_workers` once no lease request asked
  // for its queue for longer than this.
  Millis no_worker_after_ms = kDefaultNoWorkerAfterMs;
  // After a failed write (I/O error, full disk) the store refuses writes and
  // checks this often whether the disk takes them again (docs/durability.md).
  Millis write_retry_ms = 1000;
  // Tests inject disk faults and power loss here; null: the OS's file system.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// Opens (creating when missing) the store in options.data_dir.
Result<std::unique_ptr<Broker>> open_embedded_broker(const EmbeddedOptions& options);

}  // namespace errand::embedded
