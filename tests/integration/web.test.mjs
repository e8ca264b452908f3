// The dashboard's files (SPEC §3 Observability: `GET /`, served from the
// binary itself, no CDN, usable offline): headers, content types, caching,
// and that nothing the page loads comes from another origin. The views
// themselves are tested in a browser: tests/browser/dashboard.test.mjs.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer } from './lib/server.mjs';

let srv;
before(async () => {
  srv = await startServer({ durability: 'memory' });
});
after(() => srv?.close());

const get = (path, init) => fetch(srv.url + path, init);

/** Every URL an HTML or CSS text refers to (src, href, url(), @import, ES imports). */
function references(text) {
  const refs = [];
  for (const re of [/\b(?:src|href|action|poster|data)\s*=\s*["']([^"']+)["']/gi,
                    /url\(\s*["']?([^"')]+)["']?\s*\)/gi, /@import\s+["']([^"']+)["']/gi,
                    /\bimport\s*(?:[^'"]*?\bfrom\s*)?["']([^"']+)["']/g]) {
    for (const m of text.matchAll(re)) refs.push(m[1]);
  }
  return refs;
}

function assertCommonHeaders(res, path) {
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
  assert.match(res.headers.get('cache-control') ?? '', /no-cache/, path);
  assert.match(res.headers.get('etag') ?? '', /^"[0-9a-f]+"$/, path);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/, path);
  assert.match(csp, /script-src 'self'(;|$)/, `${path}: scripts only from errand itself`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${path}: no inline script or style, no wildcard`);
  assert.match(csp, /frame-ancestors 'none'/, path);
}

/** The page and every file it loads, transitively: [{path, res, text}]. */
async function crawl() {
  const seen = new Map();
  const queue = ['/'];
  while (queue.length > 0) {
    const path = queue.shift();
    if (seen.has(path)) continue;
    const res = await get(path);
    const text = await res.text();
    seen.set(path, { path, res, text });
    const type = res.headers.get('content-type') ?? '';
    if (!/html|css|javascript/.test(type)) continue;
    for (const ref of references(text)) {
      if (ref.startsWith('#') || ref.startsWith('data:')) continue;
      const url = new URL(ref, srv.url + path);
      if (url.origin === srv.url) queue.push(url.pathname);
    }
  }
  return [...seen.values()];
}

describe('the dashboard page', () => {
  test('GET / is HTML with strict security headers', async () => {
    const res = await get('/');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assertCommonHeaders(res, '/');
    const html = await res.text();
    assert.match(html, /^<!doctype html>/i);
    assert.match(html, /<script type="module" src="\/ui\/js\/main\.js"><\/script>/);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or event handler attribute');
  });

  test('nothing in the page refers to another origin', async () => {
    const files = await crawl();
    assert.ok(files.length >= 4, `the page loads its CSS, icon and modules: ${files.map((f) => f.path)}`);
    for (const { path, text } of files) {
      for (const ref of references(text)) {
        assert.ok(!/^[a-z][a-z0-9+.-]*:/i.test(ref) || ref.startsWith('data:'),
          `${path} refers to ${ref}, which is not on errand's own origin`);
        assert.ok(!ref.startsWith('//'), `${path} refers to ${ref}, protocol-relative: another origin`);
      }
      if (path === '/') assert.doesNotMatch(text, /https?:\/\//, 'no absolute URL anywhere in the HTML');
    }
  });

  test('every file the page loads is there, with its content type and the same headers', async () => {
    const expected = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8',
      svg: 'image/svg+xml', html: 'text/html; charset=utf-8' };
    for (const { path, res } of await crawl()) {
      assert.equal(res.status, 200, `${path} is served`);
      const ext = path === '/' ? 'html' : path.split('.').pop();
      assert.equal(res.headers.get('content-type'), expected[ext], `content type of ${path}`);
      assertCommonHeaders(res, path);
    }
  });

  test('an unknown file, or a directory, is 404 problem+json', async () => {
    for (const path of ['/ui/nope.js', '/ui/js/', '/ui', '/ui/../index.html', '/index.html',
                        '/ui/js/main.js.map', '/ui/%2e%2e/CMakeLists.txt']) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('content-type'), 'application/problem+json', path);
    }
  });

  test('the page and its files revalidate with ETag: 304 when unchanged', async () => {
    for (const path of ['/', '/ui/app.css', '/ui/js/main.js']) {
      const first = await get(path);
      const etag = first.headers.get('etag');
      const again = await get(path, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304, path);
      assert.equal(again.headers.get('etag'), etag, path);
      assert.equal(await again.text(), '', path);
      const other = await get(path, { headers: { 'if-none-match': '"something-else", W/' + etag } });
      assert.equal(other.status, 304, `${path}: a weak match in a list counts for If-None-Match`);
      const stale = await get(path, { headers: { 'if-none-match': '"stale"' } });
      assert.equal(stale.status, 200, path);
    }
  });

  test('HEAD answers the headers of GET without a body; other methods are 405', async () => {
    const head = await get('/ui/app.css', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/css; charset=utf-8');
    const length = Number(head.headers.get('content-length'));
    assert.equal(length, (await (await get('/ui/app.css')).arrayBuffer()).byteLength);
    assert.equal(await head.text(), '');

    const post = await get('/', { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });

  test('the API, health and metrics paths are not shadowed', async () => {
    assert.equal((await get('/healthz')).status, 200);
    const queues = await get('/v1/queues');
    assert.equal(queues.status, 200);
    assert.match(queues.headers.get('content-type'), /application\/json/);
    assert.equal((await get('/v1')).status, 404);
  });
});
