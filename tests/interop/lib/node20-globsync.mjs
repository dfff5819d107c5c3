// Supplies `globSync` for the `fs` module on Node 20, where it does not exist (it came
// with Node 22). @modelcontextprotocol/conformance 0.1.14 and newer import it by name
// (`import { globSync } from "fs"`), so on Node 20 the suite fails to load with
// "The requested module 'fs' does not provide an export named 'globSync'" (PEERS.md).
//
// Use: node --import ./tests/interop/lib/node20-globsync.mjs <script>
//
// When fs.globSync is missing, this file registers itself as an ESM loader hook
// (node:module register) whose resolve() sends every import of 'fs' / 'node:fs' to a
// small generated module: everything node:fs exports, plus this file's globSync. On
// Node 22 and later it does nothing. Only ESM imports are affected; require('fs') is not.
//
// globSync here covers what the suite uses ('**/checks.json' with { cwd }, in its
// tier-check command): patterns made of literal path segments, '*' and '?' within a
// segment, and '**' for any number of directories. No braces, classes or negation; such
// patterns throw rather than match wrongly.

import fs from 'node:fs';
import path from 'node:path';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const SHIM_URL = 'mcpauth-node20:fs';

/** One path segment pattern ('*.json') → RegExp source. */
function segmentSource(segment) {
  if (/[[\]{}!]/.test(segment)) throw new Error(`globSync shim: unsupported pattern segment '${segment}'`);
  return segment
    .split('')
    .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^$()|\\]/g, '\\$&')))
    .join('');
}

/** A glob pattern → RegExp over '/'-separated relative paths. */
function patternRegExp(pattern) {
  const segments = pattern.split('/');
  let source = '';
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '**') source += last ? '.*' : '(?:[^/]+/)*';
    else source += segmentSource(segment) + (last ? '' : '/');
  });
  return new RegExp(`^${source}$`);
}

/**
 * fs.globSync(pattern | pattern[], { cwd }) for the patterns described above: the matching
 * paths (files and directories) relative to cwd, in the platform's separator.
 */
export function globSync(pattern, options = {}) {
  const cwd = options.cwd ?? process.cwd();
  const regexps = (Array.isArray(pattern) ? pattern : [pattern]).map(patternRegExp);
  let entries;
  try {
    entries = fs.readdirSync(cwd, { recursive: true });
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  return entries.filter((entry) => {
    const posix = entry.split(path.sep).join('/');
    return regexps.some((re) => re.test(posix));
  });
}

/** Loader hook: 'fs' and 'node:fs' → the shim, except for the shim's own imports. */
export function resolve(specifier, context, nextResolve) {
  const isFs = specifier === 'fs' || specifier === 'node:fs';
  if (isFs && context.parentURL !== SHIM_URL && context.parentURL !== import.meta.url) {
    return { url: SHIM_URL, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

/** Loader hook: the shim's source. */
export function load(url, context, nextLoad) {
  if (url !== SHIM_URL) return nextLoad(url, context);
  const source = [
    "import fs from 'node:fs';",
    "export * from 'node:fs';",
    'export default fs;',
    `export { globSync } from ${JSON.stringify(import.meta.url)};`,
  ].join('\n');
  return { format: 'module', source, shortCircuit: true };
}

// The hooks run in a worker thread that evaluates this file again: register only once,
// from the main thread, and only where globSync is really missing.
if (isMainThread && typeof fs.globSync !== 'function') register(import.meta.url);
