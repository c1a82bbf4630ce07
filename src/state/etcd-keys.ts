/** Where a fleet keeps each thing in etcd, every key under the configured prefix. */
export class EtcdKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The rollout state of every service (one JSON document, the file store's format). */
  get state(): string {
    return `${this.prefix}state`;
  }

  /** The leader's election key, bound to its lease; every leader write compares on it. */
  get leader(): string {
    return `${this.prefix}leader`;
  }

  get instances(): string {
    return `${this.prefix}instances/`;
  }

  /** One instance's record (name, admin URL, config hash, applied revision, counters), bound to its lease. */
  instance(name: string): string {
    return `${this.instances}${name}`;
  }

  get commands(): string {
    return `${this.prefix}commands/`;
  }

  /** A command an instance relays to the leader, bound to the requester's lease. */
  command(id: string): string {
    return `${this.commands}${id}`;
  }

  get results(): string {
    return `${this.prefix}results/`;
  }

  /** The leader's answer to a relayed command, bound to the leader's lease. */
  result(id: string): string {
    return `${this.results}${id}`;
  }
}
