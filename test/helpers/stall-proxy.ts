/**
 * A TCP proxy in front of one etcd member that can stall: connections stay open
 * and nothing moves either way, as when a member or the network freezes. The
 * member itself keeps serving everyone else.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';

export interface StallProxy {
  /** `http://127.0.0.1:<port>`: give this to a client as the member's endpoint. */
  readonly url: string;
  /** From now on no byte is forwarded, on open connections or new ones. */
  stall(): void;
  close(): Promise<void>;
}

export async function stallProxy(target: string): Promise<StallProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let stalled = false;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    track(client);
    if (stalled) {
      client.pause();
      return;
    }
    const upstream = connect(Number(port), hostname);
    track(upstream);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk) => {
        if (!stalled) to.write(chunk);
      });
      from.on('end', () => to.end());
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const listening = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${listening}`,
    stall() {
      stalled = true;
    },
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}
