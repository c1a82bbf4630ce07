import { z } from 'zod';
import { friendlyErrorMap, issueLines } from '../config/format-issues.js';
import { BadRequestError, NotFoundError } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { localCommands, type RolloutCommands } from '../fleet/rollout-commands.js';
import type { RolloutController, StartRequest } from '../rollout/rollout-controller.js';
import { viewRollout } from '../rollout/rollout-view.js';
import type { AdminRouter } from './admin-router.js';

const CONTROL = /[\u0000-\u001f\u007f]/;

const targetUrl = z.string().transform((value, ctx) => {
  let url: URL | undefined;
  if (!CONTROL.test(value)) {
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    ctx.addIssue({ code: 'custom', message: 'must be an http(s) origin like http://host:port' });
    return z.NEVER;
  }
  return url.origin;
});

const START_KEYS = ['strategy', 'preset', 'step', 'interval', 'targets'];

/** The body of POST /api/v1/services/:name/rollout; every field optional. */
const startBody = z.strictObject({
  strategy: z.enum(['canary', 'linear', 'all-at-once', 'blue-green', 'steps']).optional(),
  preset: z.string().min(1).optional(),
  step: z.number().gt(0).max(100).optional(),
  interval: z
    .union([z.string(), z.number()])
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: 'not a positive duration (e.g. 30s, 5m)' });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
  targets: z
    .array(z.union([targetUrl.transform((url) => ({ url, weight: 1 })), z.strictObject({ url: targetUrl, weight: z.number().int().min(1).max(1000).default(1) })]))
    .min(1)
    .optional(),
});

export function parseStartRequest(body: unknown): StartRequest {
  const parsed = startBody.safeParse(body, { error: friendlyErrorMap });
  if (!parsed.success) {
    throw new BadRequestError(issueLines(parsed.error.issues, () => START_KEYS).join('; '));
  }
  const { interval, ...rest } = parsed.data;
  const urls = rest.targets?.map((t) => t.url) ?? [];
  if (new Set(urls).size !== urls.length) throw new BadRequestError('targets: a URL is listed twice');
  return { ...rest, ...(interval !== undefined ? { intervalMs: interval } : {}) };
}

/** The body of POST .../rollout/promote: `{ "full": true }` skips the bake too. */
const promoteBody = z.strictObject({ full: z.boolean().optional() });

export function parsePromoteRequest(body: unknown): { full?: boolean } {
  const parsed = promoteBody.safeParse(body, { error: friendlyErrorMap });
  if (!parsed.success) throw new BadRequestError(issueLines(parsed.error.issues, () => ['full']).join('; '));
  return parsed.data.full ? { full: true } : {};
}

/**
 * The rollout endpoints of the admin API (docs/design.md). Reads come from this instance's
 * controller; commands go through `commands` (in a fleet, to the leader).
 */
export function registerRolloutRoutes(router: AdminRouter, controller: RolloutController, commands: RolloutCommands = localCommands(controller)): void {
  const view = (service: string) => {
    const record = controller.get(service);
    return record ? viewRollout(record, controller.nextStepAt(service), controller.notDurableReason(service)) : null;
  };
  const known = (name: string | undefined): string => {
    if (!name || !controller.serviceNames().includes(name)) throw new NotFoundError(`unknown service "${name}"`);
    return name;
  };

  router.add('POST', '/api/v1/services/:name/rollout', async ({ params, body, principal }) => {
    const service = known(params.name);
    await commands.start(service, parseStartRequest(body), principal.name);
    return { status: 202, json: view(service) };
  });
  router.add('GET', '/api/v1/services/:name/rollout', ({ params }) => {
    const service = known(params.name);
    const rollout = view(service);
    if (!rollout) throw new NotFoundError(`${service} has had no rollout yet`);
    return { status: 200, json: rollout };
  });
  // Past rollouts, newest first (kept in the state file across restarts), with the one in progress first.
  router.add('GET', '/api/v1/services/:name/rollouts', ({ params }) => ({ status: 200, json: controller.rolloutHistory(known(params.name)) }));
  for (const command of ['pause', 'resume', 'promote', 'abort'] as const) {
    router.add('POST', `/api/v1/services/:name/rollout/${command}`, async ({ params, body, principal }) => {
      const service = known(params.name);
      await commands.command(service, command, command === 'promote' ? parsePromoteRequest(body) : {}, principal.name);
      return { status: 200, json: view(service) };
    });
  }
}
