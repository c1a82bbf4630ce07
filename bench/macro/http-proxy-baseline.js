// The baseline: a Node proxy built the obvious way on http-proxy, as many teams do. One
// ProxyServer, a keep-alive agent, a weighted random pick of the target (90/10), an error
// listener so an upstream reset does not crash it. Prints `{"port":n}` once listening.
import { createServer, Agent } from 'node:http';
import httpProxy from 'http-proxy';

const [bluePort, greenPort, canaryPercent] = process.argv.slice(2).map(Number);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if (res && !res.headersSent && typeof res.writeHead === 'function') {
    res.writeHead(502);
    res.end();
  } else {
    res?.destroy?.();
  }
});

const blue = `http://127.0.0.1:${bluePort}`;
const green = `http://127.0.0.1:${greenPort}`;
const server = createServer((req, res) => {
  const target = Math.random() * 100 < canaryPercent ? green : blue;
  proxy.web(req, res, { target });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
