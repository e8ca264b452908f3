// The checkout form of errand's example shop.
//
// The order is submitted as a job on the `orders` queue with `Prefer: wait=2`.
// A worker that finishes within those two seconds answers in the same response
// (200); otherwise errand answers 202 and the page follows the job's live
// events (Server-Sent Events) until it is done, showing the worker's progress.
// Either way the job's final state is put into words a shopper understands.
//
// The errand server comes from `?server=` (default http://127.0.0.1:7400); it
// must admit this page's origin with `errand serve --cors-origin ORIGIN`.
// README.md beside this file defines the payload and the results it expects.

const DEFAULT_SERVER = 'http://127.0.0.1:7400';
const QUEUE = 'orders';
const SUBMIT_WAIT_S = 2;
// A request that takes longer than this (the wait included) counts as unreachable.
const REQUEST_TIMEOUT_MS = 15_000;
// How long the page follows an accepted order before it says it is still
// being processed and stops watching.
const FOLLOW_LIMIT_MS = 3 * 60_000;
// Long-poll length when the event stream is not available.
const POLL_WAIT_S = 20;
const TERMINAL_STATES = ['succeeded', 'failed', 'cancelled', 'expired'];

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

const form = document.getElementById('checkout');
const fields = document.getElementById('payment-fields');
const payButton = document.getElementById('pay');
const statusRegion = document.getElementById('status');
const totalOutput = document.getElementById('total');
const qtyInputs = [...document.querySelectorAll('input.qty')];
const cardName = document.getElementById('card-name');
const cardNumber = document.getElementById('card-number');
const cardExpiry = document.getElementById('card-expiry');

const server = serverFromQuery();
let busy = false;
// The idempotency key of an order whose outcome the shopper has not seen yet
// (e.g. the shop was unreachable): submitting the same order again reuses it,
// so errand answers with the job it may already have instead of charging twice.
let pending = null; // {body, key}

// --- configuration ---

/** The errand base URL from ?server=, without a trailing slash; null when invalid. */
function serverFromQuery() {
  const raw = new URLSearchParams(location.search).get('server') || DEFAULT_SERVER;
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

// --- the basket and the form ---

function basket() {
  const items = [];
  let amountCents = 0;
  for (const input of qtyInputs) {
    const qty = Math.max(0, Math.min(9, Math.trunc(Number(input.value) || 0)));
    if (qty === 0) continue;
    items.push({ sku: input.dataset.sku, qty });
    amountCents += qty * Number(input.dataset.priceCents);
  }
  return { items, amountCents };
}

function updateTotal() {
  const { amountCents } = basket();
  totalOutput.value = money.format(amountCents / 100);
  payButton.textContent = `Pay ${money.format(amountCents / 100)}`;
}

function setFieldError(input, errorEl, message) {
  errorEl.textContent = message ?? '';
  errorEl.hidden = !message;
  if (input) {
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
}

/** Validates the form; returns the job payload, or null after showing what to fix. */
function readOrder() {
  const { items, amountCents } = basket();
  const digits = cardNumber.value.replace(/[\s-]/g, '');
  const expiry = parseExpiry(cardExpiry.value);
  // The basket's message is tied to every quantity field, so it marks none of them.
  const checks = [
    { input: qtyInputs[0], errorId: 'basket-error', markInput: false,
      message: items.length === 0 ? 'Your basket is empty: add at least one item.' : null },
    { input: cardName, errorId: 'card-name-error', markInput: true,
      message: cardName.value.trim() === '' ? 'Enter the name shown on your card.' : null },
    { input: cardNumber, errorId: 'card-number-error', markInput: true,
      message: /^\d{12,19}$/.test(digits) ? null : 'Enter the 12 to 19 digits on the front of your card.' },
    { input: cardExpiry, errorId: 'card-expiry-error', markInput: true, message: expiry.error },
  ];
  for (const { input, errorId, markInput, message } of checks) {
    setFieldError(markInput ? input : null, document.getElementById(errorId), message);
  }
  const firstInvalid = checks.find((c) => c.message)?.input;
  if (firstInvalid) {
    clearStatus();
    firstInvalid.focus();
    return null;
  }
  return {
    items,
    amount_cents: amountCents,
    card: { number: digits, expiry: expiry.value, name: cardName.value.trim() },
  };
}

function parseExpiry(text) {
  const m = /^\s*(\d{1,2})\s*\/\s*(\d{2})\s*$/.exec(text);
  const month = m ? Number(m[1]) : 0;
  if (!m || month < 1 || month > 12) {
    return { error: 'Enter the expiry date as month and year, like 04/29.' };
  }
  const year = 2000 + Number(m[2]);
  const now = new Date();
  if (year < now.getFullYear() || (year === now.getFullYear() && month < now.getMonth() + 1)) {
    return { error: 'This card has expired: use another card.' };
  }
  return { value: `${String(month).padStart(2, '0')}/${m[2]}`, error: null };
}

// While an order is out the fields are read-only rather than disabled, so
// keyboard focus stays where it was.
function setBusy(on) {
  busy = on;
  form.setAttribute('aria-busy', String(on));
  payButton.setAttribute('aria-disabled', String(on));
  for (const input of [...qtyInputs, cardName, cardNumber, cardExpiry]) input.readOnly = on;
}

// --- the status region ---

/**
 * Builds an element: el('p', {className: 'x', 'aria-hidden': 'true'}, 'text', child, ...).
 * Names with a dash are attributes, the others properties.
 */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name.includes('-')) node.setAttribute(name, value);
    else node[name] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function clearStatus() {
  statusRegion.replaceChildren();
}

function showWorking(text, progress = null) {
  const body = [el('span', { className: 'spinner', 'aria-hidden': 'true' }),
    el('p', { className: 'status-text' }, text)];
  if (progress) {
    body.push(el('progress', { max: 100, value: progress.percent, 'aria-label': 'Order progress' }));
  }
  statusRegion.replaceChildren(el('div', { className: 'working' }, ...body));
}

function showProgress(progress) {
  const percent = Math.max(0, Math.min(100, Math.round(Number(progress?.percent) || 0)));
  const message = String(progress?.message ?? '').trim();
  const text = message ? `${percent}% — ${capitalise(message)}` : `${percent}% done`;
  showWorking(text, { percent });
}

/** Shows an outcome: {tone: 'ok' | 'problem', title, lines: [string | Node[]]}. */
function showOutcome({ tone, title, lines }) {
  const heading = el('h3', { tabIndex: -1 }, title);
  statusRegion.replaceChildren(el('div', { className: `outcome outcome-${tone}` }, heading,
    ...lines.map((line) => el('p', {}, ...[line].flat()))));
  return heading;
}

function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// --- talking to errand ---

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `checkout-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function jobUrl(id) {
  return `${server}/v1/jobs/${encodeURIComponent(id)}`;
}

/**
 * POSTs the order. Resolves to {job, status} (200 or 202), {problem, status}
 * (errand refused it), or {unreachable: true}; never rejects.
 */
async function submitOrder(body, key) {
  let res;
  try {
    res = await fetch(`${server}/v1/queues/${QUEUE}/jobs`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Prefer: `wait=${SUBMIT_WAIT_S}`,
        'Idempotency-Key': key,
      },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (e) {
    // A network failure, a CORS refusal or a timeout all look the same to the shopper.
    console.warn('errand: submit failed', e);
    return { unreachable: true };
  }
  const doc = await res.json().catch(() => null);
  if ((res.status === 200 || res.status === 202) && doc?.id) return { status: res.status, job: doc };
  if (res.status === 200 || res.status === 202) return { unreachable: true };
  console.warn('errand: submit refused', res.status, doc);
  return { status: res.status, problem: doc };
}

/** GET the job; `waitS` long-polls until it is terminal. Resolves to the job or null. */
async function readJob(id, waitS = 0) {
  try {
    const res = await fetch(jobUrl(id), {
      headers: waitS > 0 ? { Prefer: `wait=${waitS}` } : {},
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + waitS * 1000),
    });
    return res.ok ? await res.json() : null;
  } catch (e) {
    console.warn('errand: reading the job failed', e);
    return null;
  }
}

/**
 * Follows the job's events until a terminal one, the deadline, or the stream
 * closing for good. Resolves to {terminal: type, data}, {timedOut: true} or
 * {closed: true}. EventSource reconnects by itself after a dropped connection
 * (errand replays from Last-Event-ID): `onReconnecting` is told when the
 * connection drops, `onReconnected` when it is back.
 */
function followEvents(id, deadline, { onProgress, onRetry, onReconnecting, onReconnected }) {
  return new Promise((resolve) => {
    const events = new EventSource(`${jobUrl(id)}/events`);
    let dropped = false;
    const finish = (outcome) => {
      clearTimeout(timer);
      events.close(); // else the browser would reconnect once errand ends the stream
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ timedOut: true }), deadline - Date.now());
    const parse = (e) => {
      try {
        return JSON.parse(e.data);
      } catch {
        return {};
      }
    };
    events.addEventListener('progress', (e) => onProgress(parse(e)));
    events.addEventListener('failed_attempt', () => onRetry());
    for (const type of TERMINAL_STATES) {
      events.addEventListener(type, (e) => finish({ terminal: type, data: parse(e) }));
    }
    events.addEventListener('error', () => {
      if (events.readyState === EventSource.CLOSED) {
        finish({ closed: true });
      } else {
        dropped = true;
        onReconnecting();
      }
    });
    events.addEventListener('open', () => {
      if (dropped) onReconnected();
      dropped = false;
    });
  });
}

/** Long-polls the job until it is terminal or the deadline passes; null if it never is. */
async function pollJob(id, deadline, { onProgress, onReconnecting }) {
  let failures = 0;
  while (Date.now() < deadline) {
    const waitS = Math.max(1, Math.min(POLL_WAIT_S, Math.floor((deadline - Date.now()) / 1000)));
    const job = await readJob(id, waitS);
    if (job && TERMINAL_STATES.includes(job.state)) return job;
    if (job) {
      failures = 0;
      if (job.progress) onProgress(job.progress);
    } else {
      failures += 1;
      onReconnecting();
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** failures)));
    }
  }
  return null;
}

/** Follows an accepted (202) job to its end. Resolves to the final job, or null. */
async function followJob(job) {
  const deadline = Date.now() + FOLLOW_LIMIT_MS;
  let lastProgress = job.progress;
  const showLatest = () => {
    if (lastProgress) showProgress(lastProgress);
    else showWorking('Still working on it — this is taking a little longer than usual…');
  };
  const handlers = {
    onProgress: (progress) => {
      lastProgress = progress;
      showProgress(progress);
    },
    onRetry: () => showWorking('We hit a snag on our side — trying again…'),
    onReconnecting: () => showWorking('Connection lost — reconnecting…'),
    onReconnected: showLatest,
  };
  showLatest();

  const end = typeof EventSource === 'function'
    ? await followEvents(job.id, deadline, handlers)
    : { closed: true };
  if (end.terminal) {
    // The terminal event has the error but not the result: read the whole job.
    return (await readJob(job.id)) ??
      { ...job, state: end.terminal, result: null, error: end.data?.error ?? null };
  }
  if (end.closed) return pollJob(job.id, deadline, handlers);
  return null;
}

// --- outcomes in the shopper's words ---

function reference(id) {
  return ['Your order reference is ', el('strong', { className: 'reference' }, id), '.'];
}

/** What the shopper is told about a job in a terminal state. */
function describeJob(job, order) {
  if (job.state === 'succeeded') {
    const confirmation = job.result?.confirmation;
    const charged = job.result?.charged_cents ?? order.amount_cents;
    const lines = [
      confirmation
        ? ['Your confirmation number is ', el('strong', { className: 'reference' }, confirmation), '.']
        : reference(job.id),
      `We charged ${money.format(charged / 100)} to your card ending ${order.card.number.slice(-4)}. ` +
        'Thank you for shopping with us!',
    ];
    return { tone: 'ok', title: 'Order confirmed', lines };
  }
  const type = job.state === 'failed' ? job.error?.type : null;
  if (type === 'declined') {
    return {
      tone: 'problem',
      title: 'Your card was declined.',
      lines: ['No money was taken. Try another card.'],
      retryField: cardNumber,
    };
  }
  if (type === 'out_of_stock') {
    // The worker names the sku in its message ("out of stock: <sku>").
    const input = qtyInputs.find((i) => String(job.error.message ?? '').includes(i.dataset.sku));
    const name = input?.closest('.item')?.querySelector('.item-name')?.textContent;
    return {
      tone: 'problem',
      title: name ? `Sorry, the ${name.toLowerCase()} has just sold out.`
        : 'Sorry, something in your basket has just sold out.',
      lines: ['No money was taken. Please change your basket and try again.'],
      retryField: input ?? qtyInputs[0],
    };
  }
  if (job.state === 'cancelled') {
    return { tone: 'problem', title: 'This order was cancelled.', lines: [reference(job.id)] };
  }
  return {
    tone: 'problem',
    title: 'Sorry, we couldn’t complete your order.',
    lines: [
      'Something went wrong on our side. Please try again in a few minutes, or contact us.',
      reference(job.id),
    ],
  };
}

const UNREACHABLE = {
  tone: 'problem',
  title: 'We couldn’t reach the shop right now.',
  lines: ['Please check your connection and try again in a moment. ' +
    'Trying again won’t charge you twice.'],
};

function describeRefusal(status) {
  if (status === 429 || status === 503) {
    return {
      tone: 'problem',
      title: 'The shop is very busy right now.',
      lines: ['Your order was not placed. Please try again in a minute.'],
    };
  }
  return {
    tone: 'problem',
    title: 'Sorry, we couldn’t take your order.',
    lines: ['Something went wrong on our side, and your order was not placed. ' +
      'Please try again later.'],
  };
}

// --- the flow ---

async function placeOrder(order) {
  const body = JSON.stringify({ payload: order });
  if (pending?.body !== body) pending = { body, key: newKey() };

  showWorking('Placing your order…');
  const answer = await submitOrder(body, pending.key);
  if (answer.unreachable) return UNREACHABLE;
  if (answer.problem !== undefined) {
    pending = null;
    return describeRefusal(answer.status);
  }
  const job = TERMINAL_STATES.includes(answer.job.state) ? answer.job : await followJob(answer.job);
  if (!job) {
    // Accepted but not seen to finish: keep the key, so sending it again cannot charge twice.
    return {
      tone: 'problem',
      title: 'Your order is still being processed.',
      lines: ['We’ve lost track of it for the moment, but it may still go through, so please ' +
        'don’t pay again.', reference(answer.job.id)],
    };
  }
  pending = null;
  // What went wrong is for operators (it is on the job, in errand's dashboard), not for shoppers.
  if (job.state !== 'succeeded') console.warn('errand: order', job.id, job.state, job.error);
  return describeJob(job, order);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (busy) return;
  const order = readOrder();
  if (!order) return;
  setBusy(true);
  let outcome;
  try {
    outcome = await placeOrder(order);
  } finally {
    setBusy(false);
  }
  const heading = showOutcome(outcome);
  if (outcome.tone === 'ok') {
    // The order is done: the form steps aside and the confirmation takes the focus.
    fields.disabled = true;
    for (const input of qtyInputs) input.readOnly = true;
    payButton.hidden = true;
    statusRegion.append(el('p', {}, el('a', { href: location.href }, 'Place another order')));
    heading.focus();
  } else if (outcome.retryField) {
    outcome.retryField.focus();
    if (outcome.retryField === cardNumber) cardNumber.select();
  }
});

for (const input of qtyInputs) input.addEventListener('input', updateTotal);

document.getElementById('server-url').textContent = server ?? '(invalid)';
if (!server) {
  setBusy(true);
  showOutcome({
    tone: 'problem',
    title: 'This page is not set up correctly.',
    lines: ['The ?server= address must be an http:// or https:// URL of an errand server.'],
  });
} else {
  updateTotal();
}
