// scripts/check-layers: the include graph of src/ and include/ follows the module
// order ARCHITECTURE.md states. The tree as it is must pass; copies of it with one
// backward edge of each kind must fail, naming the edge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { REPO_ROOT } from '../lib/harness.mjs';

const SCRIPT = path.join(REPO_ROOT, 'scripts/check-layers');

function checkLayers(root) {
  const r = spawnSync('bash', [SCRIPT, root], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** A copy of the parts of the tree the checker reads, changed by `edit(dir)`. */
function treeWith(t, edit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpauth-layers-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const part of ['src', 'include', 'ARCHITECTURE.md']) {
    fs.cpSync(path.join(REPO_ROOT, part), path.join(dir, part), { recursive: true });
  }
  edit(dir);
  return dir;
}

function prepend(file, line) {
  fs.writeFileSync(file, `${line}\n${fs.readFileSync(file, 'utf8')}`);
}

test('the tree follows the order in ARCHITECTURE.md', () => {
  const r = checkLayers(REPO_ROOT);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /no include points up the order/);
});

test('a source file including a header of a module above it fails', (t) => {
  const dir = treeWith(t, (d) => prepend(path.join(d, 'src/util/strbuf.c'), '#include "mcpauth/serve.h"'));
  const r = checkLayers(dir);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /src\/util\/strbuf\.c \(util\) includes mcpauth\/serve\.h \(serve\): serve is above util/);
});

test('a public header including one of a module above it fails', (t) => {
  const dir = treeWith(t, (d) => prepend(path.join(d, 'include/mcpauth/url.h'), '#include "mcpauth/mcp.h"'));
  const r = checkLayers(dir);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /include\/mcpauth\/url\.h \(util\) includes mcpauth\/mcp\.h \(mcp\)/);
});

test("including another folder's private header fails", (t) => {
  const dir = treeWith(t, (d) =>
    prepend(path.join(d, 'src/serve/router.c'), '#include "../mcp/mcp_internal.h"'));
  const r = checkLayers(dir);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /src\/serve\/router\.c includes "\.\.\/mcp\/mcp_internal\.h": another folder's private header/);
});

test('a header or a folder with no place in the order fails', (t) => {
  const dir = treeWith(t, (d) => {
    fs.writeFileSync(path.join(d, 'include/mcpauth/stray.h'), '#pragma once\n');
    fs.mkdirSync(path.join(d, 'src/stray'));
    fs.writeFileSync(path.join(d, 'src/stray/stray.c'), 'int stray;\n');
  });
  const r = checkLayers(dir);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /include\/mcpauth\/stray\.h has no module/);
  assert.match(r.out, /src\/stray\/ has no place/);
});
