/**
 * One socket write per tick instead of one per frame.
 *
 * amqplib's Mux moves frames from the channels' buffers to the socket with a
 * socket.write() per frame (a publish, an ack, a heartbeat), and a socket
 * that is not busy sends each write at once: one syscall per frame, about a
 * tenth of the worker's CPU under load. The Mux does that in a setImmediate
 * after the frames were queued, or on the socket's 'drain', never in the
 * caller's tick, so corking where we publish or ack would uncork before the
 * Mux writes anything. Hence the cork goes around the socket's own write:
 * the first write of a tick corks, and a nextTick uncorks, so whatever the
 * tick wrote leaves in one writev before the event loop moves on.
 *
 * Nothing waits longer than the tick that wrote it (heartbeats included),
 * and backpressure still works: a corked socket returns false past its
 * high-water mark like an uncorked one, the Mux stops and waits for 'drain',
 * which comes once the uncork has flushed the buffer.
 */
import { Socket } from 'node:net';

type WriteCallback = (err?: Error | null) => void;

const coalesced = new WeakSet<Socket>();

/** amqplib keeps its socket as `stream` on the connection it does not type; undefined if that ever changes. */
export function socketOf(connection: object): Socket | undefined {
  return 'stream' in connection && connection.stream instanceof Socket ? connection.stream : undefined;
}

/** Make every burst of writes on this socket within one tick a single write. Idempotent. */
export function coalesceWrites(socket: Socket): void {
  if (coalesced.has(socket)) return;
  coalesced.add(socket);
  const write = socket.write;
  let corked = false;
  const flush = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function coalescing(this: Socket, chunk: Uint8Array | string, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(flush);
    }
    return typeof encoding === 'function' ? write.call(this, chunk, undefined, encoding) : write.call(this, chunk, encoding, cb);
  };
}
