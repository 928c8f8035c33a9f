/**
 * `onResponseClose(req, res, fn)`: calls `fn` once, when the response is done — sent in full, or
 * never to be, because the client went away. Node 20 has a gap here: a pipelined response still
 * queued behind an earlier one on its connection (HTTP/1.1 pipelining) never emits `close` when
 * the client disconnects (Node 24 does), so a listener on `res` alone never ran — the server span
 * stayed open, the request metric was never recorded, `drainServer` counted the request in flight
 * until its grace ran out. The request does emit `close` then, with its connection destroyed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function onResponseClose(req: IncomingMessage, res: ServerResponse, fn: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    fn();
  };
  res.once('close', once);
  req.once('close', () => {
    // The connection is gone and the response did not finish: it never will.
    if (!res.writableFinished && req.socket?.destroyed) once();
  });
}
