import { connect } from 'node:net';

/** True when a TCP connect to 127.0.0.1:`port` is refused (nothing listens); false when it is accepted. */
export function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}
