// How times, durations and numbers read on the dashboard.

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** "27 Nov 2025, 14:03:07" in the reader's time zone; "—" for null. */
export function formatTime(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : timeFormat.format(date);
}

/** A duration in ms as "850 ms", "12.3 s", "4 min 05 s", "2 h 10 min"; "—" for null. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** Jobs per second as "0", "0.25/s", "12/s", "1.2k/s"; "—" when unknown. */
export function formatRate(perSecond) {
  if (perSecond === null || perSecond === undefined) return '—';
  if (perSecond === 0) return '0/s';
  if (perSecond < 10) return `${perSecond.toFixed(2).replace(/\.?0+$/, '')}/s`;
  if (perSecond < 1000) return `${Math.round(perSecond)}/s`;
  return `${(perSecond / 1000).toFixed(1)}k/s`;
}

const countFormat = new Intl.NumberFormat();
export function formatCount(n) {
  return n === null || n === undefined ? '—' : countFormat.format(n);
}

/** JSON as indented text for a <pre>. */
export function formatJson(value) {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}
