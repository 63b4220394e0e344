import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The start of Linux's default ephemeral range, where /proc cannot be read. */
const DEFAULT_EPHEMERAL_LOW = 32768;
/** Ports below this are often taken by well-known services. */
const LOWEST = 10000;

/** The lowest port the kernel numbers sockets from. */
function ephemeralLow(): number {
  try {
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(lo) && lo > 0 ? lo : DEFAULT_EPHEMERAL_LOW;
  } catch {
    return DEFAULT_EPHEMERAL_LOW;
  }
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

let cursor = -1;

/**
 * A free TCP port on `host` for a process started next to bind. A port the kernel hands out
 * for `listen(0)` comes from its ephemeral range, where any socket the kernel numbers itself
 * (an outgoing connection, another listener on port 0) can take it before that process binds:
 * the port is chosen below that range instead, where only an explicit bind can.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const lo = ephemeralLow();
  const top = lo > LOWEST + 1000 ? lo : 65536;
  const span = top - LOWEST;
  // Processes that pick ports at once start from different places (by pid), then walk on.
  if (cursor < 0) cursor = (process.pid * 7919) % span;
  for (let tries = 0; tries < 200; tries++) {
    const port = LOWEST + (cursor++ % span);
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free TCP port on ${host} in [${LOWEST}, ${top}) after 200 tries`);
}
