import { describe, expect, it } from 'vitest';
import { configHash, serviceConfigHashes } from '../../../src/fleet/config-hash.js';
import { loadText } from '../../helpers/config-text.js';

const base = (extra = '', testListen = '') => `
services:
  - name: shop
    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }
    green: { targets: [ { url: http://127.0.0.1:9002 } ] }
${testListen}    rollout:
      analysis: { alarms: [ { name: errors, metric: error_rate, max: ${extra || '0.05'} } ] }
  - name: cart
    blue: { targets: [ { url: http://127.0.0.1:9003 } ] }
    green: { targets: [ { url: http://127.0.0.1:9004 } ] }
`;

describe('service config hashes', () => {
  it('differ for a service whose alarms differ, and only for it', () => {
    const a = serviceConfigHashes(loadText(base('0.05')));
    const b = serviceConfigHashes(loadText(base('0.5')));
    expect(a.shop).toMatch(/^[0-9a-f]{12}$/);
    expect(a.shop).not.toBe(b.shop);
    expect(a.cart).toBe(b.cart);
    expect(configHash(a)).not.toBe(configHash(b));
  });

  it('ignore testListen (an address of this host) and the order keys are written in', () => {
    const a = serviceConfigHashes(loadText(base('0.05', '    testListen: 127.0.0.1:0\n')));
    const b = serviceConfigHashes(loadText(base('0.05')));
    expect(a.shop).toBe(b.shop);
    const reordered = base().replace('    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }\n    green: { targets: [ { url: http://127.0.0.1:9002 } ] }', '    green: { targets: [ { url: http://127.0.0.1:9002 } ] }\n    blue: { targets: [ { url: http://127.0.0.1:9001 } ] }');
    expect(serviceConfigHashes(loadText(reordered)).shop).toBe(b.shop);
  });
});
