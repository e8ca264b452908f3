// PgConnection's deferred statements (libpq's pipeline mode) on a real
// PostgreSQL: the throwaway server of ctest's `postgres` fixture, whose URL
// store_postgres_test passes in ERRAND_TEST_POSTGRES. Skipped without it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "store/postgres/pg_connection.hpp"

namespace errand::postgres {
namespace {

class PostgresConnection : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("ERRAND_TEST_POSTGRES");
    if (!url) GTEST_SKIP() << "ERRAND_TEST_POSTGRES is not set";
    c_ = std::make_unique<PgConnection>(url);
    c_->exec("CREATE TEMP TABLE t (n integer PRIMARY KEY)");
  }

  void insert(int n) { c_->defer("insert_n", "INSERT INTO t VALUES ($1)", PgParams().integer(n)); }
  std::int64_t rows() { return c_->run("count_t", "SELECT count(*) FROM t").integer(0, 0); }

  std::unique_ptr<PgConnection> c_;
};

TEST_F(PostgresConnection, DeferredStatementsRunInOrderBeforeTheNextOne) {
  {
    PgTransaction tx(*c_);
    insert(1);
    insert(2);
    c_->defer("double_n", "UPDATE t SET n = n * 10 WHERE n = $1", PgParams().integer(2));
    const auto got = c_->run("list_t", "SELECT n FROM t ORDER BY n");
    ASSERT_EQ(got.rows(), 2);
    EXPECT_EQ(got.integer(0, 0), 1);
    EXPECT_EQ(got.integer(1, 0), 20);
    insert(3);
    tx.commit();
  }
  EXPECT_FALSE(c_->in_transaction());
  EXPECT_EQ(rows(), 3);
}

TEST_F(PostgresConnection, ADeferredStatementsAnswerArrivesWithTheNextOne) {
  PgResult before, after, skipped;
  {
    PgTransaction tx(*c_);
    insert(7);
    c_->defer("count_before", "SELECT count(*) FROM t", {}, &before);
    EXPECT_EQ(before.rows(), 0);  // not read yet
    tx.commit();
    EXPECT_EQ(before.integer(0, 0), 1);
  }
  {
    // One failed: its answer and the skipped ones' stay unset.
    PgTransaction tx(*c_);
    c_->defer("count_after", "SELECT count(*) FROM t", {}, &after);
    insert(7);
    c_->defer("count_skipped", "SELECT count(*) FROM t", {}, &skipped);
    EXPECT_THROW(tx.commit(), PgError);
  }
  EXPECT_EQ(after.integer(0, 0), 1);
  EXPECT_EQ(skipped.rows(), 0);
  EXPECT_EQ(rows(), 1);
}

TEST_F(PostgresConnection, ADeferredFailureIsThrownByTheNextStatementAndRolledBack) {
  {
    PgTransaction tx(*c_);
    insert(1);
    insert(1);  // fails: the key is taken
    insert(2);  // skipped
    try {
      rows();
      FAIL() << "the duplicate key was not reported";
    } catch (const PgError& e) {
      EXPECT_TRUE(e.unique_violation()) << e.what();
      EXPECT_EQ(e.constraint(), "t_pkey");
      EXPECT_NE(std::string(e.what()).find("insert_n failed"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(c_->in_transaction());  // failed, still open: the destructor ends it
  }
  EXPECT_FALSE(c_->in_transaction());
  EXPECT_EQ(rows(), 0);
}

TEST_F(PostgresConnection, AFailureBeforeTheRollbackStillEndsTheTransaction) {
  {
    PgTransaction tx(*c_);
    insert(1);
    insert(1);
    // No statement waits for an answer: the ROLLBACK ends the pipeline, and
    // is skipped after the failure.
  }
  EXPECT_FALSE(c_->in_transaction());
  EXPECT_EQ(rows(), 0);
  PgTransaction tx(*c_);
  insert(5);
  tx.commit();
  EXPECT_EQ(rows(), 1);
}

TEST_F(PostgresConnection, ADeferredFailureBeforeCommitFailsTheCommit) {
  insert(1);
  rows();  // written
  {
    PgTransaction tx(*c_);
    insert(2);
    insert(1);  // fails at COMMIT, which is skipped
    EXPECT_THROW(tx.commit(), PgError);
  }
  EXPECT_FALSE(c_->in_transaction());
  EXPECT_EQ(rows(), 1);  // the second insert was rolled back
}

TEST_F(PostgresConnection, AStatementWhosePrepareFailedIsPreparedAgain) {
  const char* sql = "INSERT INTO later VALUES ($1)";
  c_->defer("insert_later", sql, PgParams().integer(1));
  EXPECT_THROW(rows(), PgError);  // no table `later` yet
  c_->exec("CREATE TEMP TABLE later (n integer)");
  c_->defer("insert_later", sql, PgParams().integer(1));
  EXPECT_EQ(c_->run("count_later", "SELECT count(*) FROM later").integer(0, 0), 1);
}

TEST_F(PostgresConnection, OneTheServerEndedWhileIdleIsNotAlive) {
  EXPECT_TRUE(c_->alive());
  const auto pid = c_->run("my_pid", "SELECT pg_backend_pid()").integer(0, 0);
  PgConnection admin(std::getenv("ERRAND_TEST_POSTGRES"));
  // Waits (up to 10 s) until that backend is gone.
  const auto ended =
      admin.exec("SELECT pg_terminate_backend($1::integer, 10000)", PgParams().integer(pid));
  ASSERT_TRUE(ended.boolean(0, 0));
  EXPECT_FALSE(c_->alive());
  EXPECT_FALSE(c_->ok());
}

TEST_F(PostgresConnection, ExecAloneStillTakesSeveralStatements) {
  c_->exec("INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)");
  EXPECT_EQ(rows(), 2);
}

}  // namespace
}  // namespace errand::postgres
