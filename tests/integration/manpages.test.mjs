// The man pages against the binary: every option `--help` prints is documented
// in the matching page, with the same short name, metavariable and group, and
// the page documents no option the binary lacks; the exit-status table is the
// one `--help` prints; mcpauth(1) lists exactly the subcommands there are.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { MCPAUTH_BIN, REPO_ROOT, run } from '../lib/harness.mjs';

const PAGES = [
  { page: 'mcpauth.1', args: ['--help'] },
  { page: 'mcpauth-register.1', args: ['register', '--help'] },
  { page: 'mcpauth-serve.1', args: ['serve', '--help'] },
  { page: 'mcpauth-token.1', args: ['token', '--help'] },
  { page: 'mcpauth-check-token.1', args: ['check-token', '--help'] },
];

/** Roff source to plain text, for the escapes these pages use. */
function roffText(s) {
  return s
    .replace(/\\f(?:[BIRP]|\(..|\[[^\]]*\])/g, '')
    .replace(/\\\(sc/g, '§')
    .replace(/\\\((?:lq|rq)/g, '"')
    .replace(/\\-/g, '-')
    .replace(/\\[&%:]/g, '')
    .replace(/\\e/g, '\\');
}

/** The text of one macro line (".B 0" -> "0"), or the line itself. */
function lineText(line) {
  const m = /^\.(?:B|I|BR|RB|BI|IB|IR|RI)\s+(.*)$/.exec(line);
  return roffText(m ? m[1].replace(/"/g, '') : line).trim();
}

/** { name: lines } for each .SH of a page, comments dropped. */
function sections(source) {
  const out = {};
  let current = null;
  for (const line of source.split('\n')) {
    if (line.startsWith('.\\"')) continue;
    const sh = /^\.SH\s+"?([^"]*)"?\s*$/.exec(line);
    if (sh) {
      current = sh[1].trim();
      out[current] = [];
    } else if (current) {
      out[current].push(line);
    }
  }
  return out;
}

// Metavariables are upper case, and may join parts with ':' or '=' (HOST:PORT,
// NAME=VALUE).
const OPTION = /^(?:-([A-Za-z0-9]), )?--([a-z0-9][a-z0-9-]*)(?: ([A-Z][A-Z0-9_]*(?:[:=][A-Z][A-Z0-9_]*)*))?$/;
const OPTION_THEN_TEXT =
  /^((?:-[A-Za-z0-9], )?--[a-z0-9][a-z0-9-]*(?: [A-Z][A-Z0-9_]*(?:[:=][A-Z][A-Z0-9_]*)*)?) [a-z(].*$/;

/** The options of a --help text: [{ long, short, meta, group }] in order. */
function helpOptions(help) {
  const options = [];
  let group = null;
  for (const line of help.split('\n')) {
    if (line.trim() === '') {
      group = null;
      continue;
    }
    const title = /^(\S.*):$/.exec(line);
    if (title) {
      group = title[1];
      continue;
    }
    const m = /^ {2,}(-\S.*?)(?: {2,}.*)?$/.exec(line);
    // An option column that fills its 32 characters but one is followed by a
    // single space ("--client-secret-file FILE read ..."): the option is the
    // longest prefix that parses as one.
    const o = m && (OPTION.exec(m[1]) ?? OPTION.exec(m[1].replace(OPTION_THEN_TEXT, '$1')));
    if (o) options.push({ long: o[2], short: o[1] ?? null, meta: o[3] ?? null, group });
  }
  return options;
}

/** The option entries (.TP tags) of a page's OPTIONS section, with their .SS group. */
function manOptions(lines) {
  const options = [];
  let group = null;
  for (let i = 0; i < lines.length; i++) {
    const ss = /^\.SS\s+"?([^"]*)"?\s*$/.exec(lines[i]);
    if (ss) group = roffText(ss[1]).trim();
    if (lines[i] !== '.TP') continue;
    const tag = lineText(lines[i + 1] ?? '');
    const o = OPTION.exec(tag);
    assert.ok(o, `OPTIONS entry "${tag}" does not look like an option`);
    options.push({ long: o[2], short: o[1] ?? null, meta: o[3] ?? null, group });
  }
  return options;
}

/** A --help block "Title:" followed by "  KEY  text" lines: { KEY: text }. */
function helpTable(help, title) {
  const lines = help.split('\n');
  const start = lines.indexOf(`${title}:`);
  const table = {};
  if (start < 0) return table;
  for (const line of lines.slice(start + 1)) {
    const m = /^ {2}(\S+) +(.*)$/.exec(line);
    if (!m) break;
    table[m[1]] = m[2];
  }
  return table;
}

/** The .TP items of a section: { tag: first paragraph of its text }. */
function manItems(lines) {
  const items = {};
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '.TP') continue;
    const tag = lineText(lines[i + 1] ?? '');
    const text = [];
    for (let j = i + 2; j < lines.length && !lines[j].startsWith('.'); j++) text.push(lines[j]);
    items[tag] = roffText(text.join(' ')).replace(/\s+/g, ' ').trim();
  }
  return items;
}

function mentions(text, option) {
  const escaped = option.replace(/[-]/g, '\\-');
  return new RegExp(`--${escaped}(?![a-z0-9-])`).test(text);
}

for (const { page, args } of PAGES) {
  const file = path.join(REPO_ROOT, 'man', page);
  const load = async () => {
    const r = await run(args);
    assert.equal(r.code, 0, `mcpauth ${args.join(' ')}: ${r.stderr}`);
    const source = fs.readFileSync(file, 'utf8');
    return { help: r.stdout, source, text: roffText(source), sections: sections(source) };
  };

  test(`${page}: documents every option of mcpauth ${args.join(' ')}`, async () => {
    const { help, text } = await load();
    const options = helpOptions(help);
    assert.ok(options.some((o) => o.long === 'help'), 'no options found in --help');
    const missing = options.filter((o) => !mentions(text, o.long)).map((o) => `--${o.long}`);
    assert.deepEqual(missing, [], `${page} does not mention ${missing.join(', ')}`);
  });

  test(`${page}: every option in OPTIONS exists in --help`, async () => {
    const { help, sections: s } = await load();
    assert.ok(s.OPTIONS, `${page} has no OPTIONS section`);
    const known = new Set(helpOptions(help).map((o) => o.long));
    const named = [...roffText(s.OPTIONS.join('\n')).matchAll(/--([a-z0-9][a-z0-9-]*)/g)].map(
      (m) => m[1],
    );
    const unknown = [...new Set(named.filter((n) => !known.has(n)))].map((n) => `--${n}`);
    assert.deepEqual(unknown, [], `${page} OPTIONS names options --help lacks`);
  });

  test(`${page}: OPTIONS entries match --help (groups, order, short names, metavariables)`, async () => {
    const { help, sections: s } = await load();
    const inPage = manOptions(s.OPTIONS ?? []);
    const inHelp = helpOptions(help);
    // Grouped options in the same order under the same titles; the ungrouped
    // ones (--help) may sit anywhere.
    const grouped = (list) => list.filter((o) => o.group !== null);
    const loose = (list) => list.filter((o) => o.group === null);
    assert.deepEqual(grouped(inPage), grouped(inHelp));
    assert.deepEqual(loose(inPage), loose(inHelp));
  });

  test(`${page}: EXIT STATUS is the table of --help, codes 0 to 5`, async () => {
    const { help, sections: s } = await load();
    const fromHelp = helpTable(help, 'Exit status');
    assert.deepEqual(Object.keys(fromHelp), ['0', '1', '2', '3', '4', '5']);
    assert.ok(s['EXIT STATUS'], `${page} has no EXIT STATUS section`);
    assert.deepEqual(manItems(s['EXIT STATUS']), fromHelp);
  });

  test(`${page}: ENVIRONMENT covers the variables --help names`, async () => {
    const { help, sections: s } = await load();
    const names = Object.keys(helpTable(help, 'Environment'));
    const documented = Object.keys(manItems(s.ENVIRONMENT ?? []));
    for (const name of names) assert.ok(documented.includes(name), `${page} lacks ${name}`);
  });

  test(`${page}: groff formats it without warnings`, (t) => {
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', file], { encoding: 'utf8' });
    if (r.error?.code === 'ENOENT') {
      t.skip('groff is not installed');
      return;
    }
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
}

test('mcpauth.1 SUBCOMMANDS lists exactly the subcommands, each with its own page', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0, r.stderr);
  const fromHelp = Object.keys(helpTable(r.stdout, 'Subcommands'));
  assert.ok(fromHelp.length > 0, 'no subcommands in mcpauth --help');
  const source = fs.readFileSync(path.join(REPO_ROOT, 'man', 'mcpauth.1'), 'utf8');
  assert.deepEqual(Object.keys(manItems(sections(source).SUBCOMMANDS ?? [])), fromHelp);
  for (const name of fromHelp) {
    const page = path.join(REPO_ROOT, 'man', `mcpauth-${name}.1`);
    assert.ok(fs.existsSync(page), `no man page ${page}`);
    // Hyphens in roff names are escaped: mcpauth\-check\-token.
    const roffName = name.replace(/-/g, '\\-');
    assert.ok(source.includes(`.BR mcpauth\\-${roffName} (1)`), `mcpauth.1 does not refer to mcpauth-${name}(1)`);
  }
});

test('the binary under test exists', () => {
  assert.ok(fs.existsSync(MCPAUTH_BIN), `${MCPAUTH_BIN} not built`);
});
