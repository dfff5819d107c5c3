// Shared helpers for mcpauth's Node test scripts. Node built-ins only: the integration
// tests use this file without any `npm install`.

import {spawn} from 'node:child_process';
import crypto from 'node:crypto';
import {EventEmitter} from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The binary under test: $MCPAUTH_BIN, else <repo>/build/mcpauth. */
export const MCPAUTH_BIN = process.env.MCPAUTH_BIN ? path.resolve(process.env.MCPAUTH_BIN)
                                                   : path.resolve(REPO_ROOT, 'build/mcpauth');

// $MCPAUTH_WRAPPER, e.g. "valgrind --leak-check=full --error-exitcode=99
// --errors-for-leak-kinds=definite", is put in front of the binary (split on spaces).
export const WRAPPER = Object.freeze((process.env.MCPAUTH_WRAPPER ?? '').split(' ').filter(Boolean));
// Wrapped runs are slow: timeouts are multiplied by $MCPAUTH_TIMEOUT_FACTOR
// (default 10 with a wrapper, 1 without).
export const TIMEOUT_FACTOR = Number(process.env.MCPAUTH_TIMEOUT_FACTOR) || (WRAPPER.length ? 10 : 1);

/**
 * The minimal environment a child gets: PATH and HOME plus `env` (a key whose value is
 * undefined is left out). Sanitizer settings pass through so ASan/UBSan runs report the
 * same way everywhere.
 */
function childEnvironment(env)
{
    const childEnv = {};
    const inherited = {PATH : process.env.PATH, HOME : process.env.HOME};
    for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS'])
        inherited[k] = process.env[k];
    for (const [k, v] of Object.entries({...inherited, ...env})) {
        if (v !== undefined)
            childEnv[k] = String(v);
    }
    return childEnv;
}

/**
 * A key pair {publicKey, privateKey} of crypto.generateKeyPairSync(type, options), made
 * so that node cannot deadlock on it. A KeyObject straight from generateKeyPair(Sync)
 * shares a mutex with the key-generation job that made it; should the garbage collector
 * destroy that job while the key is in use under its mutex (exported as a JWK, say,
 * which allocates), the job's destructor waits for the mutex its own thread holds, and
 * the test process hangs for ever (seen with node v20.20.2: ExportJWKRsaKey, a GC,
 * ~KeyGenJob<RsaKeyGenTraits>, uv_mutex_lock). Here the job returns PEM text and the
 * KeyObjects are parsed from it, so no object of the job is ever used.
 */
export function keyPair(type, options = {})
{
    const pem = crypto.generateKeyPairSync(type, {
        ...options,
        publicKeyEncoding : {type : 'spki', format : 'pem'},
        privateKeyEncoding : {type : 'pkcs8', format : 'pem'},
    });
    return {publicKey : crypto.createPublicKey(pem.publicKey), privateKey : crypto.createPrivateKey(pem.privateKey)};
}

/**
 * Why a killed child's 'close' has not come: its output pipes are still open (held by
 * another process, such as a backend it started in a group of its own), or they ended
 * and node has not reported its exit.
 */
function whyNotClosed(child)
{
    const pipesEnded = (child.stdout?.readableEnded ?? true) && (child.stderr?.readableEnded ?? true);
    if (!pipesEnded)
        return 'its output pipes stayed open';
    try {
        process.kill(child.pid, 0);
        return 'its output pipes ended but it still runs';
    } catch {
        return 'it is gone, but its exit was never reported';
    }
}

/**
 * Run mcpauth asynchronously (so in-process test servers keep answering).
 * The child gets a minimal environment: PATH and HOME plus `env` (a key whose value is
 * undefined is left out); nothing else from the parent, so no stray MCPAUTH_* variables.
 * stdin gets `input` (if any) and is then closed.
 * `bin` runs another path instead of MCPAUTH_BIN (e.g. a mcpauth-SUBCOMMAND link to it),
 * still behind $MCPAUTH_WRAPPER.
 * @returns {Promise<{code: number|null, signal: string|null, stdout: string, stderr: string,
 *     timedOut: boolean}>}
 */
export function run(args, {env = {}, input, timeoutMs = 30000, cwd, bin} = {})
{
    const childEnv = childEnvironment(env);
    const argv = [...WRAPPER, bin ?? MCPAUTH_BIN, ...args ];
    return new Promise((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), {env : childEnv, cwd, stdio : 'pipe'});
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
        child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
        child.stdin.on('error', () => {}); // EPIPE if the child exits without reading
        child.stdin.end(input ?? '');
        let stuck;
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
            // 'close' waits for the output pipes too, and for node to see the exit:
            // should either never come, the run still ends, saying why.
            stuck = setTimeout(() => resolve({code : child.exitCode, signal : child.signalCode, stdout,
                                              stderr : `${stderr}\n[harness: killed, but ${whyNotClosed(child)}]`,
                                              timedOut}),
                               5000);
        }, timeoutMs * TIMEOUT_FACTOR);
        child.on('error', (err) => {
            clearTimeout(timer);
            reject(new Error(`cannot run ${argv[0]}: ${err.message}`));
        });
        child.on('close', (code, signal) => {
            clearTimeout(timer);
            clearTimeout(stuck);
            resolve({code, signal, stdout, stderr, timedOut});
        });
    });
}

function listening(server, port = 0)
{
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve(server.address().port);
        });
    });
}

function endpoint(port, stop, extra)
{
    const origin = `http://127.0.0.1:${port}`;
    return {port, origin, url : (p = '') => origin + p, stop, ...extra};
}

/**
 * An HTTP server on 127.0.0.1:<free port> (or `port`). `handler(req, res)` may be async;
 * if it throws, the client gets a 500. stop() also destroys open (keep-alive) sockets.
 */
export async function startHttpServer(handler, {port : fixedPort = 0} = {})
{
    const server = http.createServer(async (req, res) => {
        try {
            await handler(req, res);
        } catch (err) {
            if (!res.headersSent)
                res.writeHead(500, {'content-type' : 'text/plain'});
            res.end(String(err?.stack ?? err));
        }
    });
    const port = await listening(server, fixedPort);
    const stop = () => new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
    });
    return endpoint(port, stop, {server});
}

/**
 * A raw TCP server on 127.0.0.1:<free port> for misbehaving peers (garbage, slow or
 * truncated replies, dropped connections). `onConnection(socket)` gets each socket.
 * stop() destroys every socket still open.
 */
export async function startRawServer(onConnection)
{
    const sockets = new Set();
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {}); // the client hanging up is not a test failure
        onConnection(socket);
    });
    const port = await listening(server);
    const stop = () => new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets)
            s.destroy();
    });
    return endpoint(port, stop, {server});
}

const tmpDirs = new Set();
process.on('exit', () => {
    for (const d of tmpDirs)
        fs.rmSync(d, {recursive : true, force : true});
});

/** A fresh empty directory, removed when the process exits. */
export function tmpDir()
{
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpauth-test-'));
    tmpDirs.add(d);
    return d;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed). */
export function freePort()
{
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const {port} = server.address();
            server.close(() => resolve(port));
        });
    });
}

// Every `mcpauth serve` started by startServe() that has not exited yet: killed (with its
// whole process group, i.e. its workers too) if the test process exits first.
const liveServes = new Set();
process.on('exit', () => {
    for (const child of liveServes) {
        try {
            process.kill(-child.pid, 'SIGKILL');
        } catch { /* already gone */
        }
    }
});

function hasOption(args, name)
{
    return args.some((a) => a === name || a.startsWith(name + '='));
}

/**
 * Start `mcpauth serve --workers 1 --listen 127.0.0.1:PORT --resource
 * http://127.0.0.1:PORT/mcp ...args` asynchronously and wait until it logs
 * "listening on http://127.0.0.1:PORT" (10 s, times $MCPAUTH_TIMEOUT_FACTOR).
 * PORT is a free port found first; `args` may also be a function (port) => args, for
 * arguments that need it (a config file naming the port, say). `--listen` and
 * `--resource` are only added when `args` has none (and never with `listenArgs: false`,
 * for a --config file that sets them); a later `--workers` in `args` wins, and with
 * `defaultWorkers` there is none but those of `args`.
 * The child gets the same minimal environment as run(), plus `env`.
 * @returns {Promise<{port: number, origin: string, resource: string, pid: number,
 *   url: (path?: string) => string, stderr: () => string,
 *   waitForLog: (re: RegExp, timeoutMs?: number) => Promise<string>,
 *   exited: Promise<{code: number|null, signal: string|null}>,
 *   stop: (signal?: string) => Promise<{code: number|null, signal: string|null}>}>}
 *   stop() sends the signal (once) and waits for the exit; if the process is still there
 *   after 15 s it is killed with its process group (SIGKILL).
 */
export async function startServe(args = [], {env = {}, port : fixedPort, listenArgs = true, defaultWorkers = false} = {})
{
    const port = fixedPort ?? await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const given = typeof args === 'function' ? args(port) : args;
    // defaultWorkers: no --workers of its own, so the server runs its default count.
    const argv = defaultWorkers ? [ 'serve' ] : [ 'serve', '--workers', '1' ];
    if (listenArgs && !hasOption(given, '--listen') && !given.includes('-l')) {
        argv.push('--listen', `127.0.0.1:${port}`);
    }
    if (listenArgs && !hasOption(given, '--resource'))
        argv.push('--resource', `${origin}/mcp`);
    argv.push(...given);
    const resourceIndex = argv.lastIndexOf('--resource');
    const resource = resourceIndex >= 0 ? argv[resourceIndex + 1] : `${origin}/mcp`;

    const childEnv = childEnvironment(env);
    const cmd = [...WRAPPER, MCPAUTH_BIN, ...argv ];
    // Its own process group, so that a leftover serve and its workers can be killed at once.
    const child = spawn(cmd[0], cmd.slice(1),
                        {env : childEnv, stdio : [ 'ignore', 'pipe', 'pipe' ], detached : true});
    liveServes.add(child);
    let log = '';
    const logEvents = new EventEmitter();
    child.stdout.setEncoding('utf8').on('data', (d) => {
        log += d;
        logEvents.emit('data');
    });
    child.stderr.setEncoding('utf8');
    const exited = new Promise((resolve) => {
        child.on('close', (code, signal) => {
            liveServes.delete(child);
            resolve({code, signal});
        });
    });
    child.on('error', () => {}); // reported through 'close' and the start timeout

    const listeningRe = /listening on (?:https?):\/\/127\.0\.0\.1:(\d+)/;
    const startTimeout = 10000 * TIMEOUT_FACTOR;
    try {
        await new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                reject(new Error(`mcpauth serve did not start within ${
                    startTimeout} ms\n--- command\n${argv.join(' ')}\n--- stderr\n${log}`));
            }, startTimeout);
            const check = () => {
                if (listeningRe.test(log)) {
                    clearTimeout(timer);
                    resolve();
                }
            };
            child.stderr.on('data', (d) => {
                log += d;
                logEvents.emit('data');
                check();
            });
            exited.then(({code, signal}) => {
                clearTimeout(timer);
                reject(new Error(`mcpauth serve exited (code ${code}, signal ${
                    signal}) before listening\n--- command\n${argv.join(' ')}\n--- stderr\n${
                    log}`));
            });
        });
    } catch (err) {
        try {
            process.kill(-child.pid, 'SIGKILL');
        } catch { /* gone */
        }
        await exited;
        throw err;
    }
    const actualPort = Number(log.match(listeningRe)[1]);
    const scheme = /listening on https:/.test(log) ? 'https' : 'http';

    let stopping = null;
    const stop = (signal = 'SIGTERM') => {
        if (!stopping) {
            stopping = (async () => {
                if (child.exitCode === null && child.signalCode === null) {
                    try {
                        child.kill(signal);
                    } catch { /* gone */
                    }
                }
                let timer;
                let stuck;
                const killed = new Promise((resolve) => {
                    timer = setTimeout(() => {
                        try {
                            process.kill(-child.pid, 'SIGKILL');
                        } catch { /* gone */
                        }
                        // 'close' waits for the output pipes too, and for node to see the
                        // exit: should either never come, stop() still ends, saying why
                        // (and failing the tests' exit checks).
                        stuck = setTimeout(() => resolve({code : child.exitCode, signal : child.signalCode,
                                                          notClosed : whyNotClosed(child)}),
                                           5000);
                    }, 15000 * TIMEOUT_FACTOR);
                });
                const result = await Promise.race([ exited, killed ]);
                clearTimeout(timer);
                clearTimeout(stuck);
                return result;
            })();
        }
        return stopping;
    };
    return {
        port : actualPort,
        origin : `${scheme}://127.0.0.1:${actualPort}`,
        resource,
        pid : child.pid,
        url : (p = '') => `${scheme}://127.0.0.1:${actualPort}${p}`,
        stderr : () => log,
        // Resolves with the log so far once it matches re (the log is read from a pipe, so a
        // line may arrive after the HTTP response it describes); rejects after timeoutMs.
        waitForLog : (re, timeoutMs = 5000) => new Promise((resolve, reject) => {
            const check = () => {
                if (re.test(log)) {
                    cleanup();
                    resolve(log);
                }
            };
            const timer = setTimeout(() => {
                cleanup();
                reject(new Error(
                    `the log did not match ${re} within ${timeoutMs} ms\n--- stderr\n${log}`));
            }, timeoutMs * TIMEOUT_FACTOR);
            const cleanup = () => {
                clearTimeout(timer);
                logEvents.off('data', check);
            };
            logEvents.on('data', check);
            check();
        }),
        exited,
        stop,
    };
}
