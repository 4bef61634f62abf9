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

// Defined on the socket classes tslab uses (the native Socket.prototype methods are read-only).
function retryOnBusy(cls, name) {
  const original = zmq.Socket.prototype[name];
  Object.defineProperty(cls.prototype, name, {
    configurable: true,
    writable: true,
    value: async function (...args) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await original.apply(this, args);
        } catch (e) {
          if (!isBindBusy(e) || this.closed || attempt >= 200) throw e;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    },
  });
}
for (const cls of [zmq.Router, zmq.Reply, zmq.Publisher]) for (const name of ["receive", "send"]) retryOnBusy(cls, name);
