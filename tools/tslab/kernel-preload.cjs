/**
 * Loaded into the tslab kernel before tslab itself (`node --require`, see jupyter/kernels/tslab/kernel.json).
 *
 * tslab starts its receive loops on the shell, control and heartbeat sockets before their `bind()` has
 * finished, and sends on iopub as soon as a message arrives. zeromq 6 answers a receive or send on a socket
 * that is still binding with EBUSY ("Socket is blocked by a bind or unbind operation"), which tslab
 * reports as an UnhandledPromiseRejection stack trace on a slow first start (the kernel works on). Here a
 * receive or send that meets EBUSY waits for the bind to finish and tries again, so nothing is printed.
 */
"use strict";
const path = require("node:path");

const zmq = require(require.resolve("zeromq", { paths: [path.join(__dirname, "node_modules", "tslab")] }));

// Only the bind case: EBUSY also means "another send/receive is in progress", where retrying could reorder messages.
const isBindBusy = (e) => Boolean(e && e.code === "EBUSY" && /bind/i.test(String(e.message)));

// Defined on the socket classes tslab uses (the native Socket.prototype methods are read-only). Everything
// but the bind case behaves exactly as before: a synchronous throw stays synchronous (e.g. a send on the
// heartbeat socket after shutdown closed it), any other rejection is passed on unchanged.
function retryOnBusy(cls, name) {
  const original = zmq.Socket.prototype[name];
  Object.defineProperty(cls.prototype, name, {
    configurable: true,
    writable: true,
    value: function (...args) {
      const retry = (e, n) => {
        if (!isBindBusy(e) || this.closed || n >= 200) throw e;
        return new Promise((resolve) => setTimeout(resolve, 10)).then(() => attempt(n + 1));
      };
      const attempt = (n) => {
        let result;
        try {
          result = original.apply(this, args);
        } catch (e) {
          // zeromq throws EBUSY synchronously while the socket binds: retry once the bind is done.
          if (!isBindBusy(e) || this.closed) throw e;
          return retry(e, n);
        }
        if (!result || typeof result.then !== "function") return result;
        return result.catch((e) => retry(e, n));
      };
      return attempt(0);
    },
  });
}
for (const cls of [zmq.Router, zmq.Reply, zmq.Publisher]) for (const name of ["receive", "send"]) retryOnBusy(cls, name);
