// The proxy's heap after a full GC, through the V8 inspector (the proxy is started with
// --inspect=127.0.0.1:0 for the scenarios that use this). A heap figure sampled without a GC
// mostly measures how much garbage happens to be waiting; after a forced full GC, growth between
// two points in time is memory that something still references.
import WebSocket from 'ws';

export async function heapUsedAfterGc(inspectorUrl) {
  return session(inspectorUrl, async (call) => {
    // Twice: the first pass can leave objects that only become unreachable once finalizers ran.
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const { result } = await call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true });
    return result.value;
  });
}

/**
 * A session kept open for repeated evaluations (connecting for each would take longer than
 * what it measures): `evaluate(expression)` returns the value (JSON-serialisable).
 */
export async function openSession(inspectorUrl) {
  const { ws, call } = await connect(inspectorUrl);
  return {
    async evaluate(expression) {
      const { result, exceptionDetails } = await call('Runtime.evaluate', { expression, returnByValue: true });
      if (exceptionDetails) throw new Error(`evaluate failed: ${exceptionDetails.text}`);
      return result.value;
    },
    close: () => ws.close(),
  };
}

async function session(inspectorUrl, work) {
  const { ws, call } = await connect(inspectorUrl);
  try {
    return await work(call);
  } finally {
    ws.close();
  }
}

async function connect(inspectorUrl) {
  const ws = new WebSocket(inspectorUrl, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextId = 1;
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const onMessage = (data) => {
        const message = JSON.parse(String(data));
        if (message.id !== id) return;
        ws.off('message', onMessage);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { ws, call };
}
