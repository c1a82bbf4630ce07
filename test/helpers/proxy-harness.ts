import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load-config.js';
import type { ShiftproxyConfig } from '../../src/core/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { startShiftproxy, type RunningShiftproxy } from '../../src/main.js';

export interface ServiceSpec {
  name?: string;
  blue: string[] | { url: string; weight?: number }[];
  green: string[] | { url: string; weight?: number }[];
  [key: string]: unknown;
}

export interface ConfigSpec {
  services: ServiceSpec[];
  [key: string]: unknown;
}

/** A full config (loopback, port 0 everywhere, a temp state file) from a compact spec, through the real loader. */
export function buildConfig(spec: ConfigSpec): ShiftproxyConfig {
  const { services, ...rest } = spec;
  const document = {
    listen: '127.0.0.1:0',
    admin: { listen: '127.0.0.1:0' },
    state: { path: join(mkdtempSync(join(tmpdir(), 'shiftproxy-test-')), 'state.json') },
    ...rest,
    services: services.map((service, index) => {
      const { blue, green, ...other } = service;
      const targets = (list: ServiceSpec['blue']) => list.map((t) => (typeof t === 'string' ? { url: t } : t));
      return { name: service.name ?? `svc${index}`, ...other, blue: { targets: targets(blue) }, green: { targets: targets(green) } };
    }),
  };
  return parseConfigText(stringify(document), { env: {} });
}

export interface ProxyUnderTest {
  running: RunningShiftproxy;
  port: number;
  url: string;
  adminPort: number;
  adminUrl: string;
  stop(): Promise<void>;
}

export async function startProxy(spec: ConfigSpec | ShiftproxyConfig): Promise<ProxyUnderTest> {
  const config = 'listen' in spec && typeof spec.listen === 'object' ? (spec as ShiftproxyConfig) : buildConfig(spec as ConfigSpec);
  const running = await startShiftproxy(config, { logger: silentLogger(), processMetrics: false });
  const port = running.proxyAddresses[0]?.port as number;
  return {
    running,
    port,
    url: `http://127.0.0.1:${port}`,
    adminPort: running.adminAddress.port,
    adminUrl: `http://127.0.0.1:${running.adminAddress.port}`,
    stop: async () => {
      await running.stop(0);
    },
  };
}
