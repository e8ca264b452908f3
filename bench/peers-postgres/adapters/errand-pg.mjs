// errand on its PostgreSQL store: the same HTTP API, so errand's own adapter
// (bench/peers-postgres, copied in by errand's bench/compare).
export * from './errand.mjs';
