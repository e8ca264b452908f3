// One page of a listing (jobs, flows), newest first, by keyset: the filters
// asked for, only ids older than the cursor, and one row more than the page,
// which tells whether another page follows.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "core/job_id.hpp"
#include "store/postgres/pg_connection.hpp"

namespace errand::postgres {

class NewestFirstQuery {
 public:
  // `select_from`: "SELECT … FROM table".
  explicit NewestFirstQuery(std::string select_from)
      : sql_(std::move(select_from) + " WHERE true") {}

  // Only the filters asked for are added, so each shape of query gets its own
  // plan. The value travels as a parameter; `column` is the caller's literal.
  void equals(std::string_view column, std::string_view value) {
    params_.text(value);
    sql_ += " AND " + std::string(column) + " = $" + std::to_string(params_.size());
  }

  // At most limit + 1 rows: more than `limit` means another page follows.
  PgResult run(PgConnection& c, const std::optional<JobId>& before, int limit) {
    if (before) {
      params_.text(before->to_string());
      sql_ += " AND id < $" + std::to_string(params_.size()) + "::uuid";
    }
    params_.integer(std::max(0, limit) + 1);
    sql_ += " ORDER BY id DESC LIMIT $" + std::to_string(params_.size());
    return c.exec(sql_, params_);
  }

 private:
  std::string sql_;
  PgParams params_;
};

}  // namespace errand::postgres
