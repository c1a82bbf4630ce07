/**
 * Caps retries to a share of the requests a service receives (a ratio budget, in the manner of
 * Finagle's RetryBudget and Envoy's retry budget): every retryable request deposits `ratio` of a
 * token, every retry spends a whole one. With all targets failing, upstream attempts stay within
 * (1 + ratio) x client requests plus the small `reserve` a quiet service starts with, so a quiet
 * service can still retry its first failures. Two numbers and no clock: cheap on the hot path.
 */
export class RetryBudget {
  private tokens: number;
  private readonly ratio: number;
  private readonly reserve: number;

  constructor(ratio = 0.1, reserve = 10) {
    this.ratio = ratio;
    this.reserve = reserve;
    this.tokens = reserve;
  }

  deposit(): void {
    const next = this.tokens + this.ratio;
    this.tokens = next > this.reserve ? this.reserve : next;
  }

  withdraw(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get available(): number {
    return this.tokens;
  }
}
