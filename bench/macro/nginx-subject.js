// nginx as the benchmarks' yardstick: the same two upstreams and 90/10 split (weighted round
// robin in one upstream block), keep-alive to them (`keepalive`, HTTP/1.1, an empty Connection
// header), the same X-Forwarded-* headers the proxies add, no access log, TLS when asked. The
// config lives in a temporary folder; the master runs in the foreground (`daemon off`) so it is stopped by its PID.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function nginxBinary() {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).error === undefined) return candidate;
  }
  return null;
}

/**
 * Writes the config; returns the folder and the arguments that start nginx on it. With `tls`
 * ({ cert, key } files), the listener terminates TLS and offers h2 as well as HTTP/1.1.
 */
export function nginxConfig({ port, bluePort, greenPort, canaryPercent, workers, tls = null }) {
  const dir = mkdtempSync(join(tmpdir(), 'shiftproxy-bench-nginx-'));
  const canary = Math.round(canaryPercent);
  const servers = [];
  if (canary < 100) servers.push(`    server 127.0.0.1:${bluePort} weight=${100 - canary};`);
  if (canary > 0) servers.push(`    server 127.0.0.1:${greenPort} weight=${canary};`);
  // nginx 1.22 (Debian 12) spells HTTP/2 `listen ... ssl http2`; from 1.25.1 it is `http2 on`.
  const listen =
    tls === null
      ? `    listen 127.0.0.1:${port};`
      : [`    listen 127.0.0.1:${port} ssl http2;`, `    ssl_certificate ${tls.cert};`, `    ssl_certificate_key ${tls.key};`, '    ssl_protocols TLSv1.2 TLSv1.3;'].join('\n');
  const conf = `
worker_processes ${workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 60s;
  keepalive_requests 1000000;
  upstream backends {
${servers.join('\n')}
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
${listen}
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
    }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return { dir, args: ['-p', dir, '-c', file, '-e', join(dir, 'error.log')] };
}
