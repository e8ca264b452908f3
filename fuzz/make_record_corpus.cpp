// Writes the seed corpus of fuzz_record_decode: records as the real store
// writes them. Opens an embedded broker in a temp dir, makes jobs and flows
// in every state (fixtures.hpp), closes it, then copies the values of the
// jobs, flows and queues column families, and a few timeline keys, into
// OUT_DIR as job-NN, flow-NN, queue-NN and timeline-key-NN.
//
//   build/fuzz/fuzz/fuzz_make_record_corpus fuzz/corpus/fuzz_record_decode
#include <rocksdb/db.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "store/embedded/embedded_broker.hpp"

namespace {

namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Copies up to `limit` keys or values of column family `cf` to out/<stem>-NN.
void dump(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, bool keys, std::size_t limit,
          const fs::path& out, const std::string& stem) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator({}, cf));
  std::size_t n = 0;
  for (it->SeekToFirst(); it->Valid() && n < limit; it->Next(), ++n) {
    char name[64];
    std::snprintf(name, sizeof name, "%s-%02zu", stem.c_str(), n + 1);
    write_file(out / name, keys ? it->key().ToString() : it->value().ToString());
  }
  std::printf("%s: %zu\n", stem.c_str(), n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  fs::create_directories(out);
  std::string dir_template = (fs::temp_directory_path() / "errand-corpus-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) return 1;
  const fs::path dir = dir_template;
  {
    auto broker = errand::embedded::open_embedded_broker(
        {.data_dir = dir.string(), .durability = errand::embedded::Durability::kOs});
    if (!broker) {
      std::fprintf(stderr, "cannot open the store: %s\n", broker.status().message().c_str());
      return 1;
    }
    errand::fuzz::populate(**broker, "seed");
    (*broker)->shutdown();
  }

  std::vector<std::string> names;
  rocksdb::Options options;
  if (!rocksdb::DB::ListColumnFamilies(options, dir.string(), &names).ok()) return 1;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(options, dir.string(), descriptors, &handles, &raw).ok()) {
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "jobs") dump(*db, handles[i], false, 20, out, "job");
    if (names[i] == "flows") dump(*db, handles[i], false, 5, out, "flow");
    if (names[i] == "queues") dump(*db, handles[i], false, 3, out, "queue");
    if (names[i] == "timeline") dump(*db, handles[i], true, 3, out, "timeline-key");
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  db.reset();
  fs::remove_all(dir);
  return 0;
}
