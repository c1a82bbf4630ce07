export type SlotName = 'blue' | 'green';
export type Role = 'stable' | 'canary';
export const SLOT_NAMES: readonly SlotName[] = ['blue', 'green'];

export function otherSlot(slot: SlotName): SlotName {
  return slot === 'blue' ? 'green' : 'blue';
}

export interface ListenAddress {
  host: string;
  port: number;
}

export function formatListen(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
