// PASS/FAIL lines: every check prints what was measured next to the threshold it was held to, so
// a failing soak run says by how much, and the run's exit code is 1 when any check failed.

export class Report {
  constructor() {
    this.results = [];
    this.notes = [];
  }

  /** Starts a scenario's block of output. */
  section(name, description) {
    this.scenario = name;
    console.log(`\n== ${name}: ${description}`);
  }

  /** Records one check: `ok` decides PASS/FAIL, `measured` and `threshold` are printed as given. */
  check(label, ok, measured, threshold) {
    const verdict = ok ? 'PASS' : 'FAIL';
    this.results.push({ scenario: this.scenario, label, ok: Boolean(ok), measured: String(measured), threshold: String(threshold) });
    console.log(`${verdict}  ${this.scenario}: ${label}: ${measured} (threshold: ${threshold})`);
    return ok;
  }

  /** A number worth seeing that no threshold applies to. */
  info(text) {
    this.notes.push({ scenario: this.scenario, text });
    console.log(`      ${text}`);
  }

  get failed() {
    return this.results.filter((r) => !r.ok);
  }
}
