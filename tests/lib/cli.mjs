// Assertions on a finished `mcpauth` run (the result of harness.mjs's run()).

import assert from 'node:assert/strict';

/** Exit status and both outputs, for assertion messages. */
export function describeRun(r) {
  return `exit ${r.code} signal ${r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Exit code `code`, no signal, no harness timeout. */
export function assertExit(r, code) {
  assert.equal(r.timedOut, false, `mcpauth was killed after the harness timeout\n${describeRun(r)}`);
  assert.equal(r.signal, null, `mcpauth died of a signal\n${describeRun(r)}`);
  assert.equal(r.code, code, describeRun(r));
}

/**
 * A failure: exit `code` and a one-line message on stderr matching `re`. A usage error
 * (exit 2) may add one more line, which must match `hint` ("Try 'mcpauth X --help'");
 * without `hint` it may not. `stdoutEmpty`: nothing on stdout either.
 */
export function assertFail(r, code, re, { hint, stdoutEmpty = false } = {}) {
  assertExit(r, code);
  if (stdoutEmpty) assert.equal(r.stdout, '', describeRun(r));
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0], re, describeRun(r));
  if (code === 2 && hint) {
    assert.ok(lines.length <= 2, `more than a message and a hint on stderr\n${describeRun(r)}`);
    if (lines.length === 2) assert.match(lines[1], hint);
  } else {
    assert.equal(lines.length, 1, `expected a one-line error\n${describeRun(r)}`);
  }
}
