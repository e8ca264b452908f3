// Where each column family's memtable inserts start looking: RocksDB's
// memtable_insert_with_hint_prefix_extractor, which keeps, per prefix, the
// position of the last insert. Every family has one hint, an empty prefix:
// its keys start with time-ordered ids, so most inserts land just after the
// last one, and a skip-list insert there costs a few comparisons instead of
// a walk down from the top.
//
// Measured and rejected: a hint per record (the whole key as the prefix, as
// RocksDB suggests for keys updated over and over). Jobs are rewritten at
// every change, but each new key then pays for a hint of its own (~250
// bytes and a hash-map insert), and W1 took 19% more instructions a job.
#pragma once

#include <memory>

namespace rocksdb {
class SliceTransform;
}

namespace errand::embedded {

// One hint for the family.
std::shared_ptr<const rocksdb::SliceTransform> one_hint();
// One hint for the timeline's events (record_codec.hpp's timeline_key),
// none for a purge's range tombstone, which starts at sequence 0 (events
// start at 1). RocksDB 7.8 (Debian 12's) shares a family's hints between its
// point entries and its range tombstones, and a tombstone inserted at a point
// entry's position corrupts the memtable (fixed upstream later).
std::shared_ptr<const rocksdb::SliceTransform> one_hint_for_events();

}  // namespace errand::embedded
