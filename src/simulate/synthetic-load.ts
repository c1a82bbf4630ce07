import autocannon from 'autocannon';

/** Instances the rate is split over; their one-second quotas start this many times a second. */
const STAGGER = 10;
const MAX_CONNECTIONS_PER_INSTANCE = 100;

/**
 * Steady HTTP load at `rps` requests per second, made by autocannon. autocannon limits a rate
 * with a quota per connection per second, so one instance sends each second's requests in a
 * burst at its start; several instances started a fraction of a second apart spread the bursts
 * across the second, which is what a rate chart and a short alarm window need to see.
 */
export class SyntheticLoad {
  private readonly instances: autocannon.Instance[] = [];
  private readonly pending: NodeJS.Timeout[] = [];
  private stopped = false;
  /** Requests answered or failed so far: the load actually delivered, which paces the simulation's clock. */
  completed = 0;

  /** `slowestAnswerMs` sizes the connection pools so injected latency does not cut the rate. */
  constructor(url: string, rps: number, slowestAnswerMs: number) {
    const parts = Math.max(1, Math.min(STAGGER, Math.floor(rps / 5)));
    const whole = Math.max(1, Math.round(rps));
    for (let i = 0; i < parts; i++) {
      const rate = Math.floor(whole / parts) + (i < whole % parts ? 1 : 0);
      if (rate === 0) continue;
      // Each connection completes about 1000 / answerMs requests a second; keep one spare.
      const connections = Math.min(MAX_CONNECTIONS_PER_INSTANCE, rate, Math.ceil((rate * (slowestAnswerMs + 50)) / 1000) + 1);
      this.pending.push(setTimeout(() => this.launch(url, rate, connections), (i * 1000) / parts));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.pending) clearTimeout(timer);
    for (const instance of this.instances) instance.stop();
  }

  private launch(url: string, rate: number, connections: number): void {
    if (this.stopped) return;
    // The callback form hands back the running instance (to stop it); its final result is not needed.
    const instance = autocannon({ url, connections, overallRate: rate, duration: 24 * 3600, timeout: 30 }, () => undefined);
    instance.on('error', () => undefined);
    instance.on('response', () => this.completed++);
    instance.on('reqError', () => this.completed++);
    this.instances.push(instance);
  }
}
