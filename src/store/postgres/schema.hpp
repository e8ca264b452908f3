// The PostgreSQL store's schema: numbered migrations, applied in order at
// start-up (and by `errand migrate`). Every migration runs in its own
// transaction under an advisory lock, so instances starting together apply
// each one once; docs/storage-format.md describes the tables.
#pragma once

#include <string>

#include "core/status.hpp"

namespace errand::postgres {

class PgConnection;

// The newest schema version this errand knows.
int latest_schema_version();

// Applies the migrations `c`'s database lacks. Refuses a database whose
// schema is newer than this errand (written by a newer version).
// Returns the version the database is at afterwards.
Result<int> migrate(PgConnection& c);

}  // namespace errand::postgres
