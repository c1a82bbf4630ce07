/**
 * One base class for every failure the product reports on purpose. Callers branch on `code`
 * (stable across versions); `status` is what an HTTP surface answers with.
 */
export class ShiftError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ShiftError';
    this.code = code;
    this.status = status;
  }
}

/** A config that cannot be used; `problems` holds one line per problem, each led by its field path. */
export class ConfigError extends ShiftError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], source?: string) {
    const where = source ? `${source}: ` : '';
    super('CONFIG_INVALID', `${where}invalid config:\n  ${problems.join('\n  ')}`, 400);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A command the current state does not allow (e.g. promote a rolled-back rollout). */
export class ConflictError extends ShiftError {
  constructor(message: string) {
    super('CONFLICT', message, 409);
    this.name = 'ConflictError';
  }
}

export class NotFoundError extends ShiftError {
  constructor(message: string) {
    super('NOT_FOUND', message, 404);
    this.name = 'NotFoundError';
  }
}

export class BadRequestError extends ShiftError {
  constructor(message: string) {
    super('BAD_REQUEST', message, 400);
    this.name = 'BadRequestError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** This instance does not lead its fleet, so it changes no rollout state itself (commands are relayed to the leader). */
export class NotLeaderError extends ShiftError {
  constructor(message: string) {
    super('NOT_LEADER', message, 503);
    this.name = 'NotLeaderError';
  }
}
