// Runs the Broker conformance suite (broker_*_test.cpp) on the PostgreSQL
// store, each test on a database of its own, on the throwaway server the
// test fixture starts (scripts/postgres-for-tests; ctest's store_postgres_test
// passes its URL in ERRAND_TEST_POSTGRES). Without that variable the suite is
// not instantiated here.
#include <gtest/gtest.h>

#include "postgres_test_store.hpp"

namespace errand::conformance {
namespace {

INSTANTIATE_TEST_SUITE_P(Postgres, BrokerTest, ::testing::ValuesIn(postgres_backends()),
                         [](const auto& info) { return info.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BrokerTest);

}  // namespace
}  // namespace errand::conformance
