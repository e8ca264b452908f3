
// ---- Appended by errand's bench/compare (bench/peers-postgres/servers.part.mjs) ----
// errand on its PostgreSQL store, and pg-boss, each on a fresh PostgreSQL 15
// cluster per run (Debian's postgresql-15, fsync and synchronous_commit on,
// its defaults). The cluster's processes count as the server's: errand's
// row sums errand and PostgreSQL, pg-boss's is PostgreSQL alone (pg-boss
// itself runs in the client processes).
PORTS.postgres = 15432;
const PG_BIN = '/usr/lib/postgresql/15/bin';
export const POSTGRES_URL = `postgresql://postgres@127.0.0.1:${PORTS.postgres}/postgres`;

async function startPostgres(logDir) {
  const dir = freshDir('/tmp/peers-postgres');
  const { execFileSync } = await import('node:child_process');
  // initdb refuses root: as root the cluster belongs to the postgres user.
  const asOwner = process.getuid() === 0 ? ['/usr/bin/setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups'] : [];
  if (asOwner.length) execFileSync('chown', ['postgres:', dir]);
  const data = path.join(dir, 'data');
  const initdb = [...asOwner, `${PG_BIN}/initdb`, '-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8'];
  execFileSync(initdb[0], initdb.slice(1), { stdio: 'ignore' });
  const args = ['-D', data, '-p', String(PORTS.postgres), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
                '-c', 'max_connections=200'];
  const cmd = [...asOwner, `${PG_BIN}/postgres`, ...args];
  const p = new Proc('postgres', cmd[0], cmd.slice(1), { logFile: path.join(logDir, 'postgres.log') });
  await waitForPort(PORTS.postgres, 30000);
  await sleep(300);
  return { p, info: `postgres ${args.join(' ')}` };
}

async function startErrandOnPostgres(_setting, logDir) {
  const bin = process.env.ERRAND_BIN;
  if (!bin) throw new Error('set ERRAND_BIN to the errand binary to benchmark');
  const pg = await startPostgres(logDir);
  const args = ['serve', '--listen', `127.0.0.1:${PORTS.errand}`, '--store', POSTGRES_URL];
  const p = new Proc('errand', bin, args, { logFile: path.join(logDir, 'errand.log') });
  await waitForPort(PORTS.errand, 15000);
  await sleep(200);
  return new Server('errand-pg', [pg.p, p], { cmd: `${pg.info}; errand ${args.join(' ')}` });
}

async function startPostgresForPgBoss(_setting, logDir) {
  const pg = await startPostgres(logDir);
  return new Server('pgboss', [pg.p], { cmd: pg.info });
}

SERVERS['errand-pg'] = { settings: ['fsync'], start: startErrandOnPostgres };
SERVERS.pgboss = { settings: ['default'], start: startPostgresForPgBoss };
