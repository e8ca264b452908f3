// The dashboard's addresses live in the URL fragment, so that every view can
// be bookmarked, reloaded and reached with Back, while errand serves one page:
//   #/                       overview (queues and alerts)
//   #/jobs?queue=&state=&cursor=   jobs, filtered, one page at a time
//   #/jobs/<id>              one job, live
//   #/flows?state=&cursor=   flows, filtered, one page at a time
//   #/flows/<id>             one flow with its steps, live
//   #/dead?queue=&cursor=    the dead-letter view (failed jobs)
//   #/alerts                 active and recent alerts

/** The view and parameters the current fragment names. */
export function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?', 2);
  const params = Object.fromEntries(new URLSearchParams(query));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { view: 'overview', params };
  if (parts[0] === 'jobs' && parts.length === 1) return { view: 'jobs', params };
  if (parts[0] === 'jobs' && parts.length === 2) return { view: 'job', params: { ...params, id: parts[1] } };
  if (parts[0] === 'flows' && parts.length === 1) return { view: 'flows', params };
  if (parts[0] === 'flows' && parts.length === 2) return { view: 'flow', params: { ...params, id: parts[1] } };
  if (parts[0] === 'dead' && parts.length === 1) return { view: 'dead', params };
  if (parts[0] === 'alerts' && parts.length === 1) return { view: 'alerts', params };
  return { view: 'notFound', params };
}

/** The fragment of a view: href('jobs', {queue: 'a'}) is "#/jobs?queue=a". */
export function href(view, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
  const text = query.toString();
  const path = view === 'overview' ? '/' : `/${view}`;
  return `#${path}${text ? `?${text}` : ''}`;
}

export function jobHref(id) {
  return `#/jobs/${encodeURIComponent(id)}`;
}

export function flowHref(id) {
  return `#/flows/${encodeURIComponent(id)}`;
}
