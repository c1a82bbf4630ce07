import { describe, expect, it } from 'vitest';
import { rateLimitedErrorLog } from '../../../src/core/rate-limited-log.js';
import { captureLogger } from '../../helpers/health-harness.js';

describe('rateLimitedErrorLog', () => {
  it('logs the first error, then one line per quiet period carrying the count of errors it skipped', () => {
    const { logger, lines } = captureLogger();
    let now = 0;
    const report = rateLimitedErrorLog(logger, 'accept failed', 10_000, () => now);
    const enobufs = Object.assign(new Error('accept ENOBUFS'), { code: 'ENOBUFS' });

    report(enobufs);
    for (let i = 0; i < 500; i++) {
      now += 10;
      report(enobufs);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'accept failed', err: 'accept ENOBUFS', code: 'ENOBUFS', unloggedSincePrevious: 0 });

    now = 9_999;
    report(enobufs);
    expect(lines).toHaveLength(1);
    now = 10_000;
    report(enobufs);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ unloggedSincePrevious: 501 });

    now = 60_000;
    report(new Error('other'));
    expect(lines[2]).toMatchObject({ err: 'other', unloggedSincePrevious: 0 });
  });
});
