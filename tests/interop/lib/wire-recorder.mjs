// A recording HTTP proxy on 127.0.0.1 for looking at MCP traffic as real clients send it:
// every exchange is forwarded unchanged to `target` (an http:// URL; the request path is
// kept) and recorded with its request headers and body and the response status, headers and
// body. Streaming (SSE) responses are relayed chunk by chunk as they arrive and recorded
// whole when they end; a client that goes away aborts the upstream request.
//
//   const rec = await startWireRecorder('http://127.0.0.1:PORT/mcp');
//   ... point a client at rec.url ...
//   rec.exchanges  // [{ method, path, requestHeaders, requestBody, status, responseHeaders, responseBody, json }]
//   await rec.stop();
//
// `addHeaders` ({ name: value }, lower-case names) are set on every forwarded request: a
// token-adding proxy for clients that send no Authorization (the conformance suite). With
// `originToTarget`, an Origin header naming the proxy (its port) is rewritten to name the
// target, as the browser's origin would be had it reached the target directly.
//
// `json` is the request body parsed (undefined if it is not JSON); `responseMessages` are the
// JSON-RPC messages of the response so far: the JSON body, or every `data:` event of an SSE
// body (complete events only; a stream the client cut off is recorded up to the cut).
// Header names are lower case (node:http). Hop-by-hop headers are not forwarded.

import http from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

/** The JSON-RPC messages in a response body: JSON, or the data lines of an SSE stream. */
export function responseMessages(contentType, body) {
  if (!body) return [];
  if ((contentType ?? '').includes('text/event-stream')) {
    const out = [];
    for (const event of body.split(/\r?\n\r?\n/)) {
      const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (!data) continue;
      try { out.push(JSON.parse(data)); } catch { /* not JSON */ }
    }
    return out;
  }
  try { return [JSON.parse(body)]; } catch { return []; }
}

export async function startWireRecorder(target, { host = '127.0.0.1', addHeaders = {}, originToTarget = false } = {}) {
  const upstream = new URL(target);
  const exchanges = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const requestBody = Buffer.concat(chunks).toString('utf8');
      const exchange = {
        method: req.method,
        path: req.url,
        requestHeaders: { ...req.headers },
        requestBody,
        json: (() => { try { return JSON.parse(requestBody); } catch { return undefined; } })(),
        status: undefined,
        responseHeaders: undefined,
        responseBody: '',
        done: false,
        /** Parsed from what has arrived so far (a stream cut by the client is still readable). */
        get responseMessages() {
          return responseMessages(this.responseHeaders?.['content-type'], this.responseBody);
        },
      };
      exchanges.push(exchange);
      const headers = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
      headers.host = upstream.host;
      Object.assign(headers, addHeaders); // e.g. an Authorization the client cannot send
      // An Origin naming this proxy names the target behind it (any other goes on as it is).
      let origin = null;
      try { origin = originToTarget && headers.origin ? new URL(headers.origin) : null; } catch { /* not a URL */ }
      if (origin && Number(origin.port) === server.address().port) {
        origin.port = upstream.port;
        headers.origin = origin.origin;
      }
      const up = http.request({
        host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers,
      }, (upRes) => {
        exchange.status = upRes.statusCode;
        exchange.responseHeaders = { ...upRes.headers };
        const out = {};
        for (const [k, v] of Object.entries(upRes.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
        res.writeHead(upRes.statusCode, out);
        upRes.on('data', (c) => { exchange.responseBody += c.toString('utf8'); res.write(c); });
        upRes.on('end', () => {
          exchange.done = true;
          res.end();
        });
        upRes.on('error', () => res.destroy());
      });
      up.on('error', (err) => {
        exchange.error = err.message;
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end();
      });
      res.on('close', () => { if (!exchange.done) up.destroy(); });
      up.end(requestBody);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const url = `http://${host}:${server.address().port}${upstream.pathname}`;
  return {
    url,
    exchanges,
    /** Recorded exchanges whose JSON-RPC method is `method`. */
    byMethod: (method) => exchanges.filter((e) => e.json?.method === method),
    clear: () => { exchanges.length = 0; },
    stop: async () => {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
