// The Fluxbase function worker: runs one version of one function, several invocations at once.
//
// Wire protocol (the other side is plugins/functions/runtime/process.py): three FIFOs
// whose paths are this script's arguments, `input`, `output` and `answers`, each
// carrying one JSON message per line. The server sends `init` {module, permissions,
// limits}, then per call `invoke` {id, request}; this worker answers "started" (before
// init), `ready`, then per call `result` {id, …}. While a call runs it may `ask` {id,
// kind, …} for what it reads from outside, each when first read and at most once per
// call: `secret` {name} (answered {user?, system?, function?}: that name in each layer
// that has it), `env` {name} (answered {value?}: Deno.env.get), `env_all` (answered
// {env}: Deno.env.toObject) and `flags` (answered {flags} evaluated for the call's
// caller). The server writes the answer on `answers`; an ask is synchronous
// (`Deno.env.get` and `secrets.get` are), so at most one is ever pending and
// `answers` needs no call id. Only then does such a value enter this process.
//
// Calls run concurrently: while one awaits (fetch, a timer), the others go on. Each
// call's logs, secrets and flags belong to its own `Call`, found through an
// AsyncLocalStorage that follows the call across awaits, timers and callbacks; work a
// handler leaves running after its call ended finds that call closed and can neither
// log nor read a secret.
//
// The function cannot reach the protocol: the FIFOs are opened here, then the read
// and write permissions for their paths are revoked (and the server unlinks them)
// before the function's code loads; Deno's internals (whose ops write to any open
// resource) are removed; and every built-in this script calls per message is captured
// now, so a function that patches TextEncoder, JSON or FsFile cannot see or change a
// frame. stdout and stderr carry only stray output. The function's own code is loaded
// with a dynamic import of a non-literal path, so it is never part of the static
// module graph, and can read nothing but its own file (and a scratch folder when granted).

import { AsyncLocalStorage } from "node:async_hooks";

const uncurry = Function.prototype.call.bind(Function.prototype.bind, Function.prototype.call);
const encodeText = uncurry(TextEncoder.prototype.encode);
const decodeText = uncurry(TextDecoder.prototype.decode);
const subarray = uncurry(Uint8Array.prototype.subarray);
const readSync = uncurry(Deno.FsFile.prototype.readSync);
const readAsync = uncurry(Deno.FsFile.prototype.read);
const writeSync = uncurry(Deno.FsFile.prototype.writeSync);
const closeSync = uncurry(Deno.FsFile.prototype.close);
const indexOf = uncurry(String.prototype.indexOf);
const sliceText = uncurry(String.prototype.slice);
const { parse: parseJson, stringify: toJson } = JSON;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const realExit = Deno.exit;
const cpuUsage = Deno.cpuUsage;
const calls = new AsyncLocalStorage();
const { setTimeout: startTimeout, setInterval: startInterval, clearTimeout: stopTimer } = globalThis;
const addToSet = uncurry(Set.prototype.add);
const deleteFromSet = uncurry(Set.prototype.delete);
const callOf = uncurry(AsyncLocalStorage.prototype.getStore);
const runIn = uncurry(AsyncLocalStorage.prototype.run);

const [inputPath, outputPath, answersPath] = Deno.args;
const input = Deno.openSync(inputPath, { read: true });
const output = Deno.openSync(outputPath, { write: true });
const answers = Deno.openSync(answersPath, { read: true });
Deno.permissions.revokeSync({ name: "read", path: inputPath });
Deno.permissions.revokeSync({ name: "read", path: answersPath });
Deno.permissions.revokeSync({ name: "write", path: outputPath });
delete Deno[Deno.internal];

// Shared storage would let one function, or one caller, leave data for another; a
// Worker is another realm (with its own `caches`) and a thread that outlives the call.
// Both Worker classes are disarmed at their base class, so no reference to them works.
const refuseWorker = function Worker() {
  throw new Error("Workers are not available to functions: do the work in the handler");
};
const nodeWorkers = await import("node:worker_threads");
for (const workerClass of [globalThis.Worker, nodeWorkers.Worker]) {
  Object.setPrototypeOf(workerClass, refuseWorker);
  Object.freeze(workerClass);
}
for (const name of ["localStorage", "sessionStorage", "Storage", "caches", "CacheStorage", "Cache", "BroadcastChannel"]) {
  delete globalThis[name];
}
// SIGXCPU is the CPU-time limit the server sets per call: the function may not catch it.
const addSignalListener = Deno.addSignalListener;
Object.defineProperty(Deno, "addSignalListener", {
  value: (signal, handler) => {
    if (signal === "SIGXCPU") throw new Error("SIGXCPU is not available to functions");
    return addSignalListener(signal, handler);
  },
});

let limits = { logBytes: 65536, logLines: 4096, bodyBytes: 6 * 1024 * 1024 };

// One invocation: its id, its log so far, and the server's answers to what it asked.
// `open` turns false when its result is sent: whatever it left running is then cut off.
class Call {
  constructor(id) {
    this.id = id;
    this.open = true;
    this.logs = [];
    this.logSize = 0;
    this.truncated = false;
    this.answers = { __proto__: null };
    this.timers = new Set();
  }
}

// The call whose code is running now, or null when it has ended (or for code no call started).
function currentCall() {
  const call = callOf(calls);
  return call !== undefined && call.open ? call : null;
}

// Timers belong to the call that set them and are cleared when it ends: nothing it
// leaves behind runs (or burns CPU) while other calls share this process. What a timer
// throws is logged here, in its call: the global error event no longer knows the call.
function timing(start, once) {
  return function (callback, delay, ...args) {
    const call = currentCall();
    if (call === null) throw new Error("Timers belong to a call: set them in the handler, they end with its call");
    if (typeof callback !== "function") throw new TypeError("A timer's callback must be a function");
    const id = start((...values) => {
      if (once) deleteFromSet(call.timers, id);
      try {
        return callback(...values);
      } catch (error) {
        capture("error", ["Uncaught error:", error]);
      }
    }, delay, ...args);
    addToSet(call.timers, id);
    return id;
  };
}
globalThis.setTimeout = timing(startTimeout, true);
globalThis.setInterval = timing(startInterval, false);

function describe(value) {
  if (typeof value === "string") return value;
  try {
    return Deno.inspect(value, { depth: 4, colors: false });
  } catch {
    return String(value);
  }
}

function capture(level, args) {
  const call = currentCall();
  if (call === null) return;
  const message = args.map(describe).join(" ");
  const size = encodeText(encoder, message).length;
  if (call.logSize + size > limits.logBytes || call.logs.length >= limits.logLines) {
    call.truncated = true;
    return;
  }
  call.logSize += size;
  call.logs.push({ timestamp: new Date().toISOString(), level, message });
}

const captured = [["log", "info"], ["info", "info"], ["debug", "debug"], ["warn", "warn"], ["error", "error"], ["trace", "debug"]];
for (const [method, level] of captured) {
  console[method] = (...args) => capture(level, args);
}
// The rest (dir, table, assert, group, time…) and alert/confirm/prompt print on the real
// stdout, which the server gives to the one call running: work left over from a call that
// ended would print into another call's log. Only code of a running call may use them.
const stillRunning = (original, nothing) => (...args) => (currentCall() === null ? nothing : original(...args));
for (const method of Object.keys(console)) {
  if (typeof console[method] === "function" && !captured.some(([name]) => name === method)) {
    console[method] = stillRunning(console[method], undefined);
  }
}
for (const [name, nothing] of [["alert", undefined], ["confirm", false], ["prompt", null]]) {
  if (typeof globalThis[name] === "function") globalThis[name] = stillRunning(globalThis[name], nothing);
}
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  capture("error", ["Unhandled promise rejection:", event.reason]);
});
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  capture("error", ["Uncaught error:", event.error ?? event.message]);
});

// The pipes are used through Deno's plain read/writeSync, not its web streams and async
// writes: those tripled the worker's CPU time per call (288 against 94 µs, measured).
// A blocking write is fine here: the server reads this pipe for as long as a call lasts.
function writeAll(bytes) {
  let written = 0;
  while (written < bytes.length) written += writeSync(output, subarray(bytes, written));
}

// A line reader over one FIFO: `next()` blocks (for `answers`, read only while a call
// waits on its ask), `nextAsync()` waits in the event loop (for `input`, so that calls
// awaiting a timer or fetch go on meanwhile). Both return the next message, or null at EOF.
function lineReader(file) {
  const chunk = new Uint8Array(1 << 16);
  let pending = "";
  const take = () => {
    const newline = indexOf(pending, "\n");
    if (newline < 0) return undefined;
    const line = sliceText(pending, 0, newline);
    pending = sliceText(pending, newline + 1);
    return parseJson(line);
  };
  const add = (read) => {
    pending += decodeText(decoder, subarray(chunk, 0, read), { stream: true });
  };
  return {
    next() {
      while (true) {
        const message = take();
        if (message !== undefined) return message;
        const read = readSync(file, chunk);
        if (read === null) return null;
        add(read);
      }
    },
    async nextAsync() {
      while (true) {
        const message = take();
        if (message !== undefined) return message;
        const read = await readAsync(file, chunk);
        if (read === null) return null;
        add(read);
      }
    },
  };
}
const inbox = lineReader(input);
const answerbox = lineReader(answers);

// A frame is a null-prototype object, so a `toJSON` planted on Object.prototype cannot
// replace it; JSON text has no raw newline, so a frame is always exactly one line. Each
// says how much CPU time the process has used, for the server's per-call CPU limit.
function send(message) {
  const { user, system } = cpuUsage();
  const frame = { __proto__: null, ...message, cpu: (user + system) / 1e6 };
  writeAll(encodeText(encoder, toJson(frame) + "\n"));
}

// The function writes through these: what it prints is its own log output.
const printed = (bytes) => {
  capture("info", [decoder.decode(bytes)]);
  return bytes.length;
};
const fakeStdout = Object.freeze({ write: async (bytes) => printed(bytes), writeSync: printed, isTerminal: () => false });
for (const name of ["stdout", "stderr"]) Object.defineProperty(Deno, name, { value: fakeStdout });
Object.defineProperty(Deno, "stdin", { value: undefined });
Object.defineProperty(Deno, "exit", {
  value: () => {
    throw new Error("Deno.exit() is not available to functions: return a response instead");
  },
});

// Deno.env is this facade: the process itself has no environment to show, and each
// invocation brings the variables it may see (allowed FLUXBASE_*, secrets, its own env).
let envAllowed = false;
const refuse = (what) => {
  throw new Deno.errors.NotCapable(`Requires env access${what}: grant the function the "env" permission`);
};
// The running call's questions to the server: `ask(kind, fields)` sends one frame and
// blocks until the answer (every call waits meanwhile, as for any synchronous work).
// `answerOf` asks each question once per call (a name read twice, or missing, is asked
// once) and keeps the answer on the call, so nothing crosses calls; outside a call, or
// after it ended, there is nothing to ask.
const hasOwn = Object.hasOwn;
const own = (object, key) => (hasOwn(object, key) ? object[key] : undefined);
const NOTHING = Object.freeze({ __proto__: null });
function ask(call, kind, fields) {
  send({ type: "ask", id: call.id, kind, ...fields });
  const answer = answerbox.next() ?? realExit(1); // null: the server is gone
  if (hasOwn(answer, "error")) throw new Error(answer.error);
  return answer;
}
function answerOf(key, kind, fields) {
  const call = currentCall();
  if (call === null) return NOTHING;
  const answers = call.answers;
  if (!(key in answers)) answers[key] = ask(call, kind, fields);
  return answers[key];
}
function answerFor(kind, name) {
  const text = `${name}`; // converted once: a name's toString may answer differently each time
  return answerOf(`${kind}:${text}`, kind, { name: text });
}

Object.defineProperty(Deno, "env", {
  value: Object.freeze({
    get: (name) => (envAllowed ? own(answerFor("env", name), "value") : refuse(` to "${name}"`)),
    has: (name) => (envAllowed ? hasOwn(answerFor("env", name), "value") : refuse(` to "${name}"`)),
    toObject: () => (envAllowed ? { ...own(answerOf("env_all", "env_all", {}), "env") } : refuse("")),
    set: () => refuse(": functions cannot change the environment"),
    delete: () => refuse(": functions cannot change the environment"),
  }),
});

const layer = (name) => (key) => own(answerFor("secret", key), name);
const userSecret = layer("user");
const systemSecret = layer("system");
const functionSecret = layer("function");
const getSecret = (key) => userSecret(key) ?? systemSecret(key) ?? functionSecret(key);
Object.defineProperty(globalThis, "secrets", {
  value: Object.freeze({
    get: getSecret,
    getRequired(key) {
      const value = getSecret(key);
      if (value === undefined) throw new Error(`Secret "${key}" is not set (no user, system or function secret has this name)`);
      return value;
    },
    getUser: userSecret,
    getSystem: systemSecret,
  }),
});

// The call's feature flags, evaluated for its caller: kept for this call only, since
// the next call has its own caller.
const callFlags = () => own(answerOf("flags", "flags", {}), "flags") ?? {};
Object.defineProperty(globalThis, "flags", {
  value: Object.freeze({
    isEnabled: (key) => callFlags()[key] === true,
    get: (key, defaultValue) => (Object.hasOwn(callFlags(), key) ? callFlags()[key] : defaultValue),
  }),
});

// Before any user code exists: the server now sets the limits and unlinks the FIFOs, then sends init.
writeAll(encodeText(encoder, "started\n"));
const init = inbox.next();
envAllowed = init.permissions.env === true;
limits = init.limits;

let entry;
try {
  const module = await import(init.module);
  entry = module.__fluxbase_entry ?? module.default ?? module.handler;
} catch (error) {
  send({ type: "ready", error: String(error?.stack ?? error) });
  realExit(1);
}
if (typeof entry !== "function") {
  send({ type: "ready", error: "The code defines no handler: declare `async function handler(req)` or export one" });
  realExit(1);
}
send({ type: "ready", error: null });

async function toResponse(value) {
  if (value instanceof Response) {
    return { status: value.status, headers: Object.fromEntries(value.headers), body: await value.text() };
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value) && ("status" in value || "body" in value)) {
    const body = value.body === undefined || value.body === null ? "" : value.body;
    return {
      status: value.status ?? 200,
      headers: value.headers ?? {},
      body: typeof body === "string" ? body : JSON.stringify(body),
    };
  }
  return { status: 200, headers: { "content-type": "application/json" }, body: JSON.stringify(value ?? null) };
}

async function run(call, request) {
  let answer;
  try {
    const response = await toResponse(await entry(request));
    const size = encodeText(encoder, String(response.body)).length;
    answer = size > limits.bodyBytes
      ? { ok: false, kind: "too_large", size }
      : { ok: true, response };
  } catch (error) {
    answer = error instanceof RangeError && error.message === "Array buffer allocation failed"
      ? { ok: false, kind: "memory" } // the data limit: the server replaces this process
      : { ok: false, kind: "thrown", message: String(error?.message ?? error), stack: String(error?.stack ?? error) };
  }
  call.open = false;
  for (const id of call.timers) stopTimer(id);
  send({ type: "result", id: call.id, ...answer, logs: call.logs, truncated: call.truncated });
}

while (true) {
  const message = await inbox.nextAsync();
  if (message === null) break;
  const call = new Call(message.id);
  runIn(calls, call, run, call, message.request);
}
closeSync(input);
closeSync(answers);
closeSync(output);
realExit(0); // the server is gone: nothing a function left behind runs on
