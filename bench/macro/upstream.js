// The benchmark upstream: node:http with keep-alive, a fixed 100-byte body, on two ports
// (the "blue" and "green" slots). Prints `{"blue":port,"green":port}` once listening.
import { createServer } from 'node:http';

const body = Buffer.alloc(100, 'x');
const handler = (req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
};

const listen = () =>
  new Promise((resolve) => {
    const server = createServer({ keepAliveTimeout: 60_000 }, handler);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });

const [blue, green] = await Promise.all([listen(), listen()]);
process.stdout.write(`${JSON.stringify({ blue, green })}\n`);
