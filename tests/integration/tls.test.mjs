// HTTPS (docs/security.md "TLS", docs/reliability.md "TLS"): `errand serve
// --tls-cert --tls-key` with a self-signed certificate made here by the
// openssl command. The API, waits and SSE work over TLS; TLS 1.1, CBC and
// non-ECDHE suites, renegotiation and plain HTTP are refused; a client that
// never handshakes is cut at the header timeout; bad key files stop the
// server before it listens (exit 2); the CLI trusts the certificate only
// with --ca-file (or ERRAND_CA_FILE).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Api, openSse, rawExchange, uniqueQueue } from './lib/http.mjs';
import { runErrand, startServer, trackChild } from './lib/server.mjs';

const HEADER_TIMEOUT_MS = 1500;

let pki;  // temp dir with cert.pem, key.pem and other-key.pem
let cert;
let key;
let ca;   // the certificate's PEM text: self-signed, it is its own CA
let srv;
let api;

/** A key pair and self-signed certificate for localhost and 127.0.0.1 in `dir`. */
function makeCertificate(dir, name) {
  const out = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', path.join(dir, `${name}key.pem`), '-out', path.join(dir, `${name}cert.pem`),
  ], { encoding: 'utf8' });
  assert.equal(out.status, 0, `openssl req failed: ${out.stderr}`);
}

before(async () => {
  pki = mkdtempSync(path.join(tmpdir(), 'errand-tls-'));
  makeCertificate(pki, '');
  makeCertificate(pki, 'other-');
  cert = path.join(pki, 'cert.pem');
  key = path.join(pki, 'key.pem');
  ca = readFileSync(cert, 'utf8');
  srv = await startServer({
    args: ['--tls-cert', cert, '--tls-key', key, '--header-timeout-ms', String(HEADER_TIMEOUT_MS)],
    ca,
  });
  api = new Api(srv);
});
after(async () => {
  await srv?.close();
  if (pki) rmSync(pki, { recursive: true, force: true });
});

/** Connects with node's TLS client; resolves to {socket} or {error}. */
function tlsConnect(options) {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: srv.port, ca, servername: 'localhost', ...options },
                               () => resolve({ socket }));
    socket.once('error', (error) => resolve({ error }));
  });
}

describe('the API over HTTPS', () => {
  test('submit, lease, ack and a waiting submit', async () => {
    assert.match(srv.url, /^https:\/\//);
    const q = uniqueQueue('tls');
    const waiting = api.submit(q, { payload: { n: 1 } }, { wait: 10 });
    const leased = await api.leaseOne(q);
    assert.deepEqual(leased.payload, { n: 1 });
    await api.ackOk(leased.id, leased.lease, { ok: true });
    const answer = await waiting;
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.state, 'succeeded');
    assert.deepEqual(answer.body.result, { ok: true });
    assert.equal((await api.job(leased.id)).state, 'succeeded');
  });

  test('server-sent events follow a job to its end', async () => {
    const q = uniqueQueue('tls-sse');
    const job = await api.submitOk(q, { payload: 1 });
    const sse = await openSse(`${srv.url}/v1/jobs/${job.id}/events`, {}, { ca });
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get('content-type'), /text\/event-stream/);
    assert.equal((await sse.next(10_000)).event, 'enqueued');
    const leased = await api.leaseOne(q);
    await api.heartbeat(leased.id, leased.lease, { progress: { percent: 50, message: 'half' } });
    await api.ackOk(leased.id, leased.lease, 'done');
    const rest = await sse.rest(10_000);
    const types = rest.map((f) => f.event);
    assert.deepEqual(types, ['leased', 'progress', 'succeeded'], JSON.stringify(types));
  });
});

describe('protocols', () => {
  test('TLS 1.0 and 1.1 are refused by the server; 1.2 and 1.3 are accepted', async () => {
    // SECLEVEL=0 lets node's OpenSSL offer the old versions at all, so that
    // the refusal (alert 70, protocol_version) comes from the server.
    for (const version of ['TLSv1', 'TLSv1.1']) {
      const { error } = await tlsConnect({ minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
      assert.ok(error, `${version} was accepted`);
      assert.match(error.message, /alert protocol version/, `${version}: ${error.message}`);
    }
    for (const version of ['TLSv1.2', 'TLSv1.3']) {
      const { socket, error } = await tlsConnect({ minVersion: version, maxVersion: version });
      assert.ok(socket, `${version}: ${error?.message}`);
      assert.equal(socket.getProtocol(), version);
      // TLS 1.2: ECDHE key exchange and an AEAD cipher only.
      if (version === 'TLSv1.2') assert.match(socket.getCipher().name, /^ECDHE-.*(GCM|CHACHA20)/);
      socket.destroy();
    }
  });

  test('TLS 1.2 without forward secrecy or with CBC ciphers is refused', async () => {
    for (const ciphers of ['AES128-GCM-SHA256', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384']) {
      const { error } = await tlsConnect({ maxVersion: 'TLSv1.2', ciphers });
      assert.ok(error, `${ciphers} was accepted`);
      assert.match(error.message, /handshake failure/, `${ciphers}: ${error.message}`);
    }
  });

  test('renegotiation is refused', async () => {
    // openssl s_client renegotiates when it reads "R" on a line of its own.
    const child = trackChild(spawn('openssl', ['s_client', '-connect', `127.0.0.1:${srv.port}`, '-tls1_2',
                                               '-CAfile', cert], { stdio: ['pipe', 'pipe', 'pipe'] }));
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const exited = new Promise((resolve) => child.once('close', resolve));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdin.write('R\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    assert.match(output, /RENEGOTIATING/, output);
    assert.match(output, /no renegotiation/, output);
  });

  test('plain HTTP on the TLS port gets no HTTP answer, and the server goes on', async () => {
    const res = await rawExchange(srv.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 10_000 });
    assert.equal(res.status, null, `an HTTP answer: ${res.text.slice(0, 100)}`);
    assert.ok(res.closed, 'the server closed the connection');
    assert.equal((await api.req('GET', '/healthz')).status, 200);
  });

  test('a client that never handshakes is closed at the header timeout', async () => {
    const started = Date.now();
    const closedAfter = await new Promise((resolve, reject) => {
      const socket = net.connect(srv.port, '127.0.0.1');
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('still open after 20 s'));
      }, 20_000);
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(Date.now() - started);
      });
    });
    assert.ok(closedAfter >= HEADER_TIMEOUT_MS - 200, `closed after ${closedAfter} ms, before the timeout`);
    assert.ok(closedAfter < HEADER_TIMEOUT_MS + 10_000, `closed after ${closedAfter} ms`);
    assert.equal((await api.req('GET', '/healthz')).status, 200);
  });
});

describe('certificate files', () => {
  /** `errand serve` with these TLS arguments; it must exit 2 before listening. */
  async function refusedServe(tlsArgs) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'errand-tls-bad-'));
    try {
      const res = await runErrand(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...tlsArgs],
                                  { timeoutMs: 20_000 });
      assert.equal(res.code, 2, `exit ${res.code}\n${res.stderr}`);
      assert.doesNotMatch(res.stdout, /listening/);
      return res.stderr;
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  test('a key that does not match the certificate: exit 2 naming both files', async () => {
    const otherKey = path.join(pki, 'other-key.pem');
    const stderr = await refusedServe(['--tls-cert', cert, '--tls-key', otherKey]);
    assert.match(stderr, /other-key\.pem: the private key does not match the certificate in .*cert\.pem/);
  });

  test('a missing key or certificate, or a file that is not PEM: exit 2 naming it and why', async () => {
    const missing = path.join(pki, 'missing.pem');
    assert.match(await refusedServe(['--tls-cert', cert, '--tls-key', missing]),
                 /missing\.pem: cannot read the private key: No such file or directory/);
    assert.match(await refusedServe(['--tls-cert', missing, '--tls-key', key]),
                 /missing\.pem: cannot read the certificate: No such file or directory/);
    const garbage = path.join(pki, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    assert.match(await refusedServe(['--tls-cert', garbage, '--tls-key', key]), /garbage\.pem: not a PEM certificate/);
  });

  test('one of the two flags alone: exit 2', async () => {
    assert.match(await refusedServe(['--tls-cert', cert]), /needs both --tls-cert and --tls-key/);
    assert.match(await refusedServe(['--tls-key', key]), /needs both --tls-cert and --tls-key/);
  });
});

describe('the CLI over HTTPS', () => {
  test('with --ca-file or ERRAND_CA_FILE it works; without, exit 2 and a clear message', async () => {
    const q = uniqueQueue('tls-cli');
    const ok = await runErrand(['submit', q, '{"via":"cli"}', '--server', srv.url, '--ca-file', cert]);
    assert.equal(ok.code, 0, ok.stderr);
    const job = JSON.parse(ok.stdout);
    assert.deepEqual(job.payload, { via: 'cli' });

    const viaEnv = await runErrand(['get', job.id, '--server', srv.url], { env: { ERRAND_CA_FILE: cert } });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal(JSON.parse(viaEnv.stdout).id, job.id);

    const untrusted = await runErrand(['submit', q, '{}', '--server', srv.url]);
    assert.equal(untrusted.code, 2, untrusted.stdout);
    assert.match(untrusted.stderr, /cannot verify the TLS certificate of errand at https:\/\/127\.0\.0\.1/);
    assert.match(untrusted.stderr, /--ca-file/);

    const wrongCa = await runErrand(['queues', '--server', srv.url, '--ca-file', path.join(pki, 'other-cert.pem')]);
    assert.equal(wrongCa.code, 2);
    assert.match(wrongCa.stderr, /cannot verify the TLS certificate/);

    assert.equal((await api.queue(q)).counts.queued, 1, 'only the trusted submit got through');
  });
});
