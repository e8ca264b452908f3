// Alerts as GET /v1/alerts lists them (active, and the last resolved ones),
// polled every few seconds. A server without alerts (404) is asked again
// only once a minute.

import { get } from './api.js';

const POLL_MS = 5000;
const ABSENT_POLL_MS = 60_000;

export class AlertFeed {
  constructor() {
    this.alerts = [];
    this.available = null; // null: not asked yet; false: this server has no alerts
    this.problem = null;   // why this token may not see them (a 403), in words
    this.listeners = new Set();
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start() {
    this.poll();
  }

  firing() {
    return this.alerts.filter((a) => a.state === 'firing');
  }

  resolved() {
    return this.alerts.filter((a) => a.state !== 'firing');
  }

  async poll() {
    let next = POLL_MS;
    try {
      const { alerts } = await get('/v1/alerts');
      this.alerts = Array.isArray(alerts) ? alerts : [];
      this.available = true;
      this.problem = null;
    } catch (e) {
      if (e.status === 403) this.problem = e.message;
      if (e.status === 404) {
        this.available = false;
        next = ABSENT_POLL_MS;
      }
      // otherwise: unreachable for now; keep what we had
    }
    for (const fn of this.listeners) fn(this);
    setTimeout(() => this.poll(), next);
  }
}
