import type { RolloutController, StartRequest } from '../rollout/rollout-controller.js';
import type { RolloutRecord } from '../rollout/rollout-record.js';

/**
 * Where the admin API sends a person's rollout commands: straight to this process's controller
 * (one proxy), or, in a fleet, to the leader's (relayed through etcd when this instance follows).
 * Either way the answer is the rollout as this instance then has it.
 */
export interface RolloutCommands {
  /** `by` names who asked (an admin token's name), kept in the rollout's history. */
  start(service: string, request: StartRequest, by?: string): Promise<RolloutRecord>;
  command(service: string, type: 'pause' | 'resume' | 'promote' | 'abort', options: { full?: boolean }, by?: string): Promise<RolloutRecord>;
}

export function localCommands(controller: RolloutController): RolloutCommands {
  return {
    start: (service, request, by) => controller.startRollout(service, request, by !== undefined ? { by } : {}),
    command: (service, type, options, by) => controller.command(service, type, options, by !== undefined ? { by } : {}),
  };
}
