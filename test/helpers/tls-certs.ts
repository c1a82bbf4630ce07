import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedCertificate {
  cert: string;
  key: string;
}

/**
 * A throwaway certificate authority (OpenSSL, which the machine has), so clients verify the
 * proxy's certificates for real (`curl --cacert`, Node's `ca`) instead of switching checks off.
 */
export class TestCa {
  readonly dir: string;
  readonly caFile: string;
  private readonly caKey: string;
  private serial = 0;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'shiftproxy-tls-'));
    this.caFile = join(this.dir, 'ca.pem');
    this.caKey = join(this.dir, 'ca.key');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.caKey, '-out', this.caFile, '-days', '3650', '-subj', '/CN=shiftproxy test CA'], this.dir);
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(
      join(this.dir, 'ca.cnf'),
      ['[ca]', 'default_ca = d', '[d]', 'database = index.txt', 'serial = serial', 'new_certs_dir = .', 'default_md = sha256', 'policy = p', 'copy_extensions = copy', 'unique_subject = no', '[p]', 'commonName = supplied', ''].join('\n'),
    );
  }

  /**
   * A leaf certificate for `names` (the first is the CN), signed by this CA, valid from now for
   * 30 days, or over `dates` (OpenSSL's YYYYMMDDHHMMSSZ) to make an expired or future one.
   */
  issue(names: readonly string[], dates?: { start: string; end: string }): IssuedCertificate {
    const base = join(this.dir, `leaf-${++this.serial}`);
    const san = names.map((n) => `DNS:${n}`).join(',');
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`], this.dir);
    writeFileSync(join(this.dir, 'serial'), `${(0x1000 + this.serial).toString(16)}\n`);
    const validity = dates ? ['-startdate', dates.start, '-enddate', dates.end] : ['-days', '30'];
    openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', this.caFile, '-keyfile', this.caKey, '-in', `${base}.csr`, '-out', `${base}.pem`, '-notext', ...validity], this.dir);
    return { cert: `${base}.pem`, key: `${base}.key` };
  }

  /** Copies an issued pair to fixed paths (what a config names), replacing what is there. */
  install(issued: IssuedCertificate, at: IssuedCertificate): void {
    copyFileSync(issued.key, `${at.key}.tmp`);
    copyFileSync(issued.cert, `${at.cert}.tmp`);
    // Renamed into place as a renewal tool does: a reader never sees half a file.
    execFileSync('mv', ['-f', `${at.key}.tmp`, at.key]);
    execFileSync('mv', ['-f', `${at.cert}.tmp`, at.cert]);
  }
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}
