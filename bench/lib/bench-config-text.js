// The config every benchmark's shiftproxy serves, as a user would write it: one service `bench`
// with blue and green on the bench upstream's two ports, and client keep-alive long enough that
// no run sees its connections closed. `head` holds the listener and admin lines (and anything
// else top-level a subject needs); `service` adds lines to the service.
export function benchConfigText({ bluePort, greenPort, head = ['listen: 127.0.0.1:0', 'admin: { listen: 127.0.0.1:0 }'], service = [] }) {
  return [
    ...head,
    'server: { keepAliveTimeout: 60s }',
    'services:',
    '  - name: bench',
    `    blue: { targets: [ { url: "http://127.0.0.1:${bluePort}" } ] }`,
    `    green: { targets: [ { url: "http://127.0.0.1:${greenPort}" } ] }`,
    ...service.map((line) => `    ${line}`),
  ].join('\n');
}
