import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 whose link can be cut: `cut()` drops every connection and
 * refuses new ones (the port stops listening) until `restore()`. What a browser peer sees of a
 * lost network, with a real aggregator behind it. With `delayMs`, every chunk is held that
 * long each way: a slow link, which paces peers that wait for each other at every step.
 */
export interface CutProxy {
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function cutProxy(targetPort: number, delayMs = 0): Promise<CutProxy> {
  // Timers of equal duration fire in the order they were set, so the bytes stay in order.
  const forward = (from: Socket, to: Socket): void => {
    if (delayMs === 0) {
      from.pipe(to);
      return;
    }
    from.on('data', (b: Buffer) => setTimeout(() => to.destroyed || to.write(b), delayMs));
  };
  const sockets = new Set<Socket>();
  const make = (): Server =>
    createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      forward(client, upstream);
      forward(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  const listen = (srv: Server, port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => {
        const a = srv.address();
        resolve(typeof a === 'object' && a !== null ? a.port : port);
      });
    });
  let server: Server | null = make();
  const port = await listen(server, 0);
  const stop = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    if (s !== null) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  return {
    port,
    cut: stop,
    async restore() {
      if (server !== null) return;
      server = make();
      await listen(server, port);
    },
    close: stop,
  };
}
