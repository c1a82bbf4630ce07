import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { resolve } from 'node:path';

const definition = loadSync(resolve(__dirname, '../fixtures/echo.proto'), { keepCase: true });
const echoPackage = grpc.loadPackageDefinition(definition) as unknown as {
  shiftproxy: { test: { Echo: grpc.ServiceClientConstructor } };
};
const Echo = echoPackage.shiftproxy.test.Echo;

export interface SayReply {
  text: string;
  slot: string;
}

/** A real gRPC server (grpc-js, HTTP/2 in clear) that says which slot it is. */
export class EchoServer {
  readonly slot: string;
  private readonly server = new grpc.Server();
  /** Answer every call with this status instead (a failing canary); OK by default. */
  failWith: grpc.status = grpc.status.OK;
  /** Calls `Hold` has taken and not yet answered, and whether each was cancelled. */
  readonly held: { release: () => void; cancelled: boolean }[] = [];
  calls = 0;
  url = '';

  constructor(slot: string) {
    this.slot = slot;
    this.server.addService(Echo.service, {
      Say: (call: grpc.ServerUnaryCall<{ text: string }, SayReply>, callback: grpc.sendUnaryData<SayReply>) => {
        this.calls += 1;
        if (this.failWith !== grpc.status.OK) return callback({ code: this.failWith, details: `${slot} is failing` });
        callback(null, { text: call.request.text, slot });
      },
      Count: (call: grpc.ServerWritableStream<{ n: number }, SayReply>) => {
        this.calls += 1;
        for (let i = 1; i <= call.request.n; i++) call.write({ text: String(i), slot });
        call.end();
      },
      Hold: (call: grpc.ServerUnaryCall<{ text: string }, SayReply>, callback: grpc.sendUnaryData<SayReply>) => {
        this.calls += 1;
        const entry = { release: () => callback(null, { text: call.request.text, slot }), cancelled: false };
        call.on('cancelled', () => (entry.cancelled = true));
        this.held.push(entry);
      },
    });
  }

  async start(): Promise<string> {
    const port = await new Promise<number>((resolvePort, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolvePort(bound))),
    );
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  stop(): Promise<void> {
    return new Promise((done) => this.server.tryShutdown(() => done()));
  }
}

/** A grpc-js client of the Echo service; `address` is host:port, through the proxy. */
export class EchoClient {
  private readonly client: grpc.Client & Record<string, (...args: unknown[]) => unknown>;

  constructor(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}) {
    this.client = new Echo(address, credentials, options) as never;
  }

  say(text: string, deadlineMs?: number): Promise<SayReply> {
    return this.unary('Say', text, deadlineMs);
  }

  hold(text: string, deadlineMs?: number): Promise<SayReply> {
    return this.unary('Hold', text, deadlineMs);
  }

  count(n: number): Promise<SayReply[]> {
    return new Promise((resolveAll, reject) => {
      const replies: SayReply[] = [];
      const call = (this.client.Count as (req: unknown) => grpc.ClientReadableStream<SayReply>)({ n });
      call.on('data', (reply: SayReply) => replies.push(reply));
      call.on('error', reject);
      call.on('end', () => resolveAll(replies));
    });
  }

  close(): void {
    this.client.close();
  }

  private unary(method: string, text: string, deadlineMs?: number): Promise<SayReply> {
    return new Promise((resolveReply, reject) => {
      const options = deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + deadlineMs) };
      (this.client[method] as (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply: SayReply) => void) => void)(
        { text },
        new grpc.Metadata(),
        options,
        (err, reply) => (err ? reject(err) : resolveReply(reply)),
      );
    });
  }
}

export { grpc };
