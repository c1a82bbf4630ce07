// Blue and green for the mirror benchmark: the same JSON shape, but green's answer differs in
// one field (a failing dark launch), optionally after a delay. Prints `{"blue":port,"green":port}`.
import { createServer } from 'node:http';

const greenDelayMs = Number(process.argv[2] ?? 0);
const answer = (value) => Buffer.from(JSON.stringify({ items: [{ sku: 'a', price: 10 }, { sku: 'b', price: 20 }], total: value }));
const blueBody = answer(30);
const greenBody = answer(31);

const listen = (body, delayMs) =>
  new Promise((resolve) => {
    const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      req.resume();
      const send = () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });

const [blue, green] = await Promise.all([listen(blueBody, 0), listen(greenBody, greenDelayMs)]);
process.stdout.write(`${JSON.stringify({ blue, green })}\n`);
