import type { Registry } from 'prom-client';

export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  /** For histograms: `name_bucket`, `name_sum`, `name_count`. */
  metricName?: string;
}

export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * A metric whose samples are computed at scrape time from plain counters the rest of the
 * process keeps. prom-client's registry accepts any object with this shape, so the hot path
 * never calls into prom-client or looks up a label set.
 */
export class ScrapeMetric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum';
  private readonly collect: () => Sample[];

  constructor(name: string, help: string, type: MetricType, collect: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.collect = collect;
  }

  async get(): Promise<{ name: string; help: string; type: MetricType; values: Sample[]; aggregator: string }> {
    return { name: this.name, help: this.help, type: this.type, values: this.collect(), aggregator: this.aggregator };
  }

  reset(): void {}

  registerIn(registry: Registry): this {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
    return this;
  }
}
