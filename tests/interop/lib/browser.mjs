// A scripted "browser" for oidc-provider's development interactions, so that a test can
// complete an authorization-code flow without a person: it follows the authorization URL
// with fetch and a small cookie jar through /auth → /interaction/:uid (login form) →
// /auth/:uid → /interaction/:uid (consent form) → /auth/:uid → redirect_uri, and finally
// requests the redirect URI itself, as a browser would (that is where the client's
// loopback listener waits).
//
// oidc-provider 9.13.3 devInteractions, observed:
// - the login page has <form action="/interaction/UID" method="post"> with a hidden
//   prompt=login and the fields login and password (any values are accepted; the login
//   becomes the subject through findAccount in authserver.mjs);
// - the consent page posts prompt=consent to the same action; an abort link
//   (/interaction/UID/abort) ends the flow with error=access_denied;
// - cookies (_interaction, _interaction_resume, _session and their .sig) are scoped by
//   path; sending every live cookie to the provider's origin is enough here.

/** A cookie jar for one origin: name → value, honouring deletions (Max-Age=0 / past Expires). */
class CookieJar {
  constructor() { this.cookies = new Map(); }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const expired = attributes.some((a) => {
        const [k, v] = a.split('=');
        if (k.toLowerCase() === 'max-age') return Number(v) <= 0;
        if (k.toLowerCase() === 'expires') return Date.parse(v) <= Date.now();
        return false;
      });
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function formAction(html, base) {
  const m = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(html);
  if (!m) throw new Error(`no form in the interaction page:\n${html.slice(0, 2000)}`);
  return new URL(m[1].replace(/&amp;/g, '&'), base).href;
}

/**
 * Follow an authorization URL through oidc-provider's login and consent pages.
 * @param {string} url the authorization request URL (mcpauth prints it on stderr)
 * @param {object} [options]
 * @param {string} [options.login='alice'] the user name typed into the login form
 * @param {boolean} [options.deny=false] abort at the consent page (→ error=access_denied)
 * @param {boolean} [options.deliver=true] request the final redirect URL; false only
 *   returns it (a test may then tamper with it and deliver it itself)
 * @param {number} [options.maxSteps=20]
 * @returns {Promise<{redirect: string, status?: number, body?: string}>} the URL the
 *   provider finally redirected to (off its origin), and the answer of the request to it
 */
export async function followAuthorization(url, {
  login = 'alice', deny = false, deliver = true, maxSteps = 20,
} = {}) {
  const origin = new URL(url).origin;
  const jar = new CookieJar();
  let next = url;
  let init = { method: 'GET' };
  for (let step = 0; step < maxSteps; step++) {
    const headers = { ...(init.headers ?? {}) };
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    const res = await fetch(next, { ...init, headers, redirect: 'manual' });
    jar.store(res);
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const location = new URL(res.headers.get('location'), next).href;
      if (new URL(location).origin !== origin) {
        if (!deliver) return { redirect: location };
        // The redirect back to the client: deliver it like a browser.
        const answer = await fetch(location, { redirect: 'manual' });
        return { redirect: location, status: answer.status, body: await answer.text() };
      }
      next = location;
      init = { method: 'GET' };
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status} at ${next}:\n${html.slice(0, 2000)}`);
    const action = formAction(html, next);
    const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
    const form = new URLSearchParams();
    if (prompt === 'login') {
      form.set('prompt', 'login');
      form.set('login', login);
      form.set('password', 'any-password');
    } else if (prompt === 'consent') {
      if (deny) {
        next = `${action}/abort`;
        init = { method: 'GET' };
        continue;
      }
      form.set('prompt', 'consent');
    } else {
      throw new Error(`unexpected interaction page at ${next}:\n${html.slice(0, 2000)}`);
    }
    next = action;
    init = {
      method: 'POST',
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
  }
  throw new Error(`no redirect to the client after ${maxSteps} steps`);
}
