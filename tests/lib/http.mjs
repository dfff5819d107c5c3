// HTTP helpers shared by the Node test scripts: the small pieces fake servers and clients
// need (bodies, JSON answers, client authentication, Bearer challenges, plain requests).
// Node built-ins only, like harness.mjs.

import assert from 'node:assert/strict';
import http from 'node:http';
import { startHttpServer } from './harness.mjs';

/** The whole body of an incoming request, as a string. */
export function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { data += d; });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

/** Answers with `doc` (an object, or a string sent as is) as application/json. */
export function sendJson(res, status, doc, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof doc === 'string' ? doc : JSON.stringify(doc));
}

/** RFC 6749 §2.3.1 client_secret_basic: id and secret form-encoded, then base64. */
export const basicAuth = (id, secret) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** application/x-www-form-urlencoded decoding of one value; null when malformed. */
export function formDecode(s) {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/** The parameters of a well-formed RFC 6750 §3 Bearer challenge, each at most once. */
export function parseChallenge(value) {
  assert.ok(value, 'WWW-Authenticate missing');
  const m = /^Bearer ((?:[a-z_]+="[^"\\]*")(?:, [a-z_]+="[^"\\]*")*)$/.exec(value);
  assert.ok(m, `not a well-formed Bearer challenge: ${value}`);
  const params = {};
  for (const p of m[1].matchAll(/([a-z_]+)="([^"\\]*)"/g)) {
    assert.equal(params[p[1]], undefined, `${p[1]} appears twice in ${value}`);
    params[p[1]] = p[2];
  }
  return params;
}

/**
 * One request without connection reuse. Resolves with the status, headers, raw headers,
 * body and json() (which fails the test when the body is not JSON).
 */
export function request(url, { method = 'GET', headers = {}, body, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: res.headers,
        rawHeaders: res.rawHeaders,
        body: data,
        json() {
          try {
            return JSON.parse(data);
          } catch {
            return assert.fail(`not JSON (status ${res.statusCode}): ${data}`);
          }
        },
      }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms: ${method} ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A port on 127.0.0.1 that had a listener a moment ago and has none now. */
export async function closedPort() {
  const srv = await startHttpServer((req, res) => res.end());
  const { port } = srv;
  await srv.stop();
  return port;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds since the epoch. */
export const nowS = () => Math.floor(Date.now() / 1000);
