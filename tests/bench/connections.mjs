// Opens N keep-alive connections to host:port, sends one request on each,
// waits until all are answered, then holds them open and prints "ready".
// Exits (closing them all) on SIGTERM.
import net from 'node:net';

const [host, port, count, path] = [process.argv[2], Number(process.argv[3]),
  Number(process.argv[4]), process.argv[5] ?? '/healthz'];
const sockets = [];
let answered = 0;
await new Promise((resolve, reject) => {
  let opened = 0;
  const openOne = () => {
    if (opened === count) return;
    opened++;
    const s = net.connect(port, host, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
    });
    s.once('data', () => { if (++answered === count) resolve(); });
    s.on('error', reject);
    sockets.push(s);
    setImmediate(openOne);
  };
  for (let i = 0; i < 64; i++) openOne();
});
console.log('ready');
process.on('SIGTERM', () => { for (const s of sockets) s.destroy(); process.exit(0); });
setInterval(() => {}, 1 << 30);
