// Signing in to a server with tokens (docs/security.md, "The dashboard").
// When any request is answered 401, the page shows a form in place of the
// view; a token typed there is checked with one request (a 401 is "not
// valid", any other answer means the server knows it), kept for this tab
// (api.js) and the page starts over with it. "Sign out" forgets it.
// A server without tokens never answers 401, so it never shows any of this.

import { hasToken, onSignInNeeded, setToken } from './api.js';

// Any endpoint that needs a token will do; this one is cheap.
const CHECK_PATH = '/v1/queues';

export function startSignIn() {
  const section = document.getElementById('sign-in');
  const form = document.getElementById('sign-in-form');
  const input = document.getElementById('sign-in-token');
  const error = document.getElementById('sign-in-error');
  const reason = document.getElementById('sign-in-reason');
  const signOut = document.getElementById('sign-out');
  const main = document.getElementById('main');

  signOut.hidden = !hasToken();
  signOut.addEventListener('click', () => {
    setToken(null);
    location.reload();
  });

  onSignInNeeded(() => {
    if (!section.hidden) return;
    if (hasToken()) {
      // The token this tab had is refused now (the server's tokens changed).
      setToken(null);
      reason.textContent = 'The token this tab used is no longer accepted. Sign in again.';
    }
    signOut.hidden = true;
    main.hidden = true;
    section.hidden = false;
    input.focus();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) {
      showError('Enter a token.');
      return;
    }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const res = await fetch(CHECK_PATH, {
        headers: { accept: 'application/json', authorization: `Bearer ${candidate}` }, cache: 'no-store',
      });
      res.body?.cancel().catch(() => {});
      if (res.status === 401) {
        showError('That token is not valid on this server.');
        return;
      }
      setToken(candidate);
      location.reload();
    } catch {
      showError('The errand server cannot be reached.');
    } finally {
      button.disabled = false;
    }
  });

  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}
