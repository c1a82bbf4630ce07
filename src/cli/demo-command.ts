import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Pool } from 'undici';
import { parseConfigText } from '../config/load-config.js';
import { formatDuration } from '../core/duration.js';
import { silentLogger } from '../core/logger.js';
import { startShiftproxy } from '../main.js';
import type { RolloutRecord } from '../rollout/rollout-record.js';
import { FakeBackend } from '../simulate/fake-backend.js';
import { AdminClient } from './admin-client.js';

export interface DemoOptions {
  /** How long each step holds, and the bake; a person watching the dashboard wants a few seconds. */
  stepMs: number;
  /** Seconds to wait before starting, so the dashboard can be opened first. */
  leadMs: number;
}

const WEIGHTS = [10, 25, 50, 100];

/**
 * `shiftproxy demo`: two fake backends, the real proxy on loopback with health checks and an
 * error-rate alarm, steady traffic, and a real rollout started through the admin API. The
 * dashboard address comes first so a person can watch; a progress bar follows the rollout (on
 * a terminal; one line per phase otherwise) and one line tells the outcome.
 */
export async function demoCommand(options: DemoOptions, out: NodeJS.WriteStream = process.stdout): Promise<boolean> {
  const blue = new FakeBackend('blue');
  const green = new FakeBackend('green');
  await Promise.all([blue.start(), green.start()]);
  const stateDir = mkdtempSync(join(tmpdir(), 'shiftproxy-demo-'));
  const step = formatDuration(options.stepMs);
  const config = parseConfigText(
    [
      'listen: 127.0.0.1:0',
      'admin: { listen: 127.0.0.1:0 }',
      `state: { path: ${JSON.stringify(join(stateDir, 'state.json'))} }`,
      'services:',
      '  - name: demo',
      '    live: blue',
      `    blue: { targets: [ { url: "${blue.url}" } ] }`,
      `    green: { targets: [ { url: "${green.url}" } ] }`,
      '    healthCheck: { path: /healthz, interval: 1s, timeout: 500ms }',
      '    rollout:',
      '      strategy: steps',
      `      steps: [ ${WEIGHTS.map((w) => (w === 100 ? '{ weight: 100 }' : `{ weight: ${w}, pause: ${step} }`)).join(', ')} ]`,
      `      bakeTime: ${step}`,
      '      analysis:',
      '        interval: 1s',
      '        alarms:',
      '          - { name: green-errors, metric: error_rate, role: canary, window: 5s, max: 0.05, minRequests: 20 }',
    ].join('\n'),
    { env: {} },
  );
  const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false });
  const proxyUrl = `http://127.0.0.1:${running.proxyAddresses[0]?.port}`;
  const adminUrl = `http://127.0.0.1:${running.adminAddress.port}`;
  out.write(
    `shiftproxy demo: a real rollout on loopback\n\n` +
      `  dashboard    ${adminUrl}/   (open it now: the rollout starts in ${formatDuration(options.leadMs)})\n` +
      `  proxy        ${proxyUrl}\n` +
      `  blue (live)  ${blue.url}\n  green (new)  ${green.url}\n` +
      `  admin API    ${adminUrl}/api/v1/services/demo/rollout   metrics ${adminUrl}/metrics\n` +
      `  schedule     green ${WEIGHTS.join('% -> ')}%, ${step} per step, then ${step} of bake watched by an error-rate alarm\n\n`,
  );

  const traffic = new SteadyTraffic(proxyUrl);
  const progress = out.isTTY === true ? new ProgressBar(out) : new PhaseLines(out);
  const finished = new Promise<RolloutRecord>((resolve) => {
    running.controller.onTransition((_service, _previous, current) => {
      progress.update(current, traffic);
      if (current.state === 'promoted' || current.state === 'rolled_back') resolve(current);
    });
  });

  try {
    await sleep(options.leadMs);
    await new AdminClient(adminUrl, undefined).post('/api/v1/services/demo/rollout', {});
    const ticker = setInterval(() => {
      const current = running.controller.get('demo');
      if (current) progress.update(current, traffic);
    }, 250);
    const outcome = await finished.finally(() => clearInterval(ticker));
    progress.finish(outcome, traffic);
    const served = traffic.total;
    out.write(
      `\n${outcome.state === 'promoted' ? 'promoted: green is live' : `rolled back: blue kept the traffic (${outcome.reason})`}; ` +
        `${served.blue + served.green} requests served (blue ${served.blue}, green ${served.green}), ` +
        `${served.failed === 0 ? 'none failed' : `${served.failed} failed`}.\n`,
    );
    return outcome.state === 'promoted';
  } finally {
    await traffic.stop();
    await running.stop(1000);
    await Promise.all([blue.stop(), green.stop()]);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

interface Served {
  blue: number;
  green: number;
  failed: number;
}

/** A few clients in a loop through the proxy, counting which slot answered. */
class SteadyTraffic {
  readonly total: Served = { blue: 0, green: 0, failed: 0 };
  /** Since the last phase boundary (see takePhase). */
  private phase: Served = { blue: 0, green: 0, failed: 0 };
  private stopped = false;
  private readonly client: Pool;
  private readonly workers: Promise<void>[];

  constructor(url: string) {
    this.client = new Pool(url, { connections: 4 });
    this.workers = Array.from({ length: 4 }, () => this.loop());
  }

  takePhase(): Served {
    const phase = this.phase;
    this.phase = { blue: 0, green: 0, failed: 0 };
    return phase;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.workers);
    await this.client.close();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let outcome: keyof Served = 'failed';
      try {
        const { statusCode, headers, body } = await this.client.request({ path: '/', method: 'GET' });
        await body.dump();
        const slot = headers['x-served-by'];
        if (statusCode < 500 && (slot === 'blue' || slot === 'green')) outcome = slot;
      } catch {
        outcome = 'failed';
      }
      this.total[outcome] += 1;
      this.phase[outcome] += 1;
      await sleep(4);
    }
  }
}

interface DemoProgress {
  update(rollout: RolloutRecord, traffic: SteadyTraffic): void;
  finish(rollout: RolloutRecord, traffic: SteadyTraffic): void;
}

/** The share of traffic green gets in this state (after promotion green is live: 100%). */
function greenWeight(rollout: RolloutRecord): number {
  if (rollout.state === 'promoted') return 100;
  if (rollout.state === 'rolled_back' || rollout.state === 'pending') return 0;
  return rollout.canaryWeight;
}

function stepLabel(rollout: RolloutRecord): string {
  if (rollout.state === 'progressing' && rollout.stepIndex >= 0) return `${rollout.state} ${rollout.stepIndex + 1}/${rollout.plan.steps.length}`;
  return rollout.state;
}

function greenShare(served: Served): string {
  const total = served.blue + served.green;
  return total === 0 ? '-' : `${((served.green / total) * 100).toFixed(1)}%`;
}

/** On a terminal: one bar that moves through the schedule (each step, then the bake). */
class ProgressBar implements DemoProgress {
  private readonly bar: SingleBar;
  private started = false;
  private done = 0;

  constructor(out: NodeJS.WriteStream) {
    this.bar = new SingleBar({
      format: '  {bar} {percentage}% | {label} | green {weight}% | served lately: {share} green',
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      stream: out,
    });
  }

  update(rollout: RolloutRecord, traffic: SteadyTraffic): void {
    const parts = rollout.plan.steps.length + 1;
    if (rollout.state === 'promoted') this.done = parts;
    else if (rollout.state === 'baking') this.done = parts - 1;
    else if (rollout.state === 'progressing') this.done = Math.max(0, rollout.stepIndex);
    // "Lately" is since the previous update, a quarter of a second or one transition ago.
    const payload = { label: stepLabel(rollout).padEnd(15), weight: String(greenWeight(rollout)).padStart(3), share: greenShare(traffic.takePhase()) };
    if (this.started) {
      this.bar.update(this.done, payload);
    } else {
      this.bar.start(parts, this.done, payload);
      this.started = true;
    }
  }

  finish(rollout: RolloutRecord, traffic: SteadyTraffic): void {
    this.update(rollout, traffic);
    this.bar.stop();
  }
}

/** Off a terminal (a log, a CI job): one line per phase once it is over, with what the traffic did. */
class PhaseLines implements DemoProgress {
  private readonly out: NodeJS.WriteStream;
  private phase = { label: 'before', weight: 0, startedAt: performance.now() };

  constructor(out: NodeJS.WriteStream) {
    this.out = out;
  }

  update(rollout: RolloutRecord, traffic: SteadyTraffic): void {
    const label = stepLabel(rollout);
    const weight = greenWeight(rollout);
    if (label === this.phase.label && weight === this.phase.weight) return;
    this.endPhase(traffic);
    this.phase = { label, weight, startedAt: performance.now() };
  }

  finish(): void {
    // The transition to the outcome already closed the last phase; the outcome line follows.
  }

  private endPhase(traffic: SteadyTraffic): void {
    const served = traffic.takePhase();
    const seconds = ((performance.now() - this.phase.startedAt) / 1000).toFixed(1);
    this.out.write(
      `  ${this.phase.label.padEnd(15)} green ${String(this.phase.weight).padStart(3)}% for ${seconds}s   ` +
        `blue ${String(served.blue).padStart(5)}  green ${String(served.green).padStart(5)}  (${greenShare(served)} green)\n`,
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
