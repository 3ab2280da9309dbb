// The Fluxbase function worker: runs one version of one function, one invocation at a time.
//
// Wire protocol (written by the Python side, plugins/functions/runtime/deno.py): two
// FIFOs whose paths are this script's arguments, `input` and `output`, each carrying
// one JSON message per line. The server sends `init` {module, permissions, limits},
// then per call `invoke` {request}; this worker answers "started" (before init),
// `ready`, then per call `result`, and before it the call's asks, each answered by
// the server before anything else happens: `secret` {name} (answered {user?, system?,
// function?}: that name in each layer that has it), `env` {name} (answered {value?}:
// Deno.env.get), `env_all` (answered {env}: Deno.env.toObject) and `flags` (answered
// {flags} evaluated for this call's caller). Each is asked when the function first
// reads it, at most once per call, and only then does a value enter this process.
//
// The function cannot reach the protocol: both FIFOs are opened here, then the read
// and write permissions for their paths are revoked (and the server unlinks them)
// before the function's code loads; Deno's internals (whose ops write to any open
// resource) are removed; and every built-in this script calls per message is captured
// now, so a function that patches TextEncoder, JSON or FsFile cannot see or change a
// frame. stdout and stderr carry only stray output. The function's own code is loaded
// with a dynamic import of a non-literal path, so it is never part of the static
// module graph, and can read nothing but its own file (and a scratch folder when granted).

const uncurry = Function.prototype.call.bind(Function.prototype.bind, Function.prototype.call);
const encodeText = uncurry(TextEncoder.prototype.encode);
const decodeText = uncurry(TextDecoder.prototype.decode);
const subarray = uncurry(Uint8Array.prototype.subarray);
const readSync = uncurry(Deno.FsFile.prototype.readSync);
const writeSync = uncurry(Deno.FsFile.prototype.writeSync);
const closeSync = uncurry(Deno.FsFile.prototype.close);
const indexOf = uncurry(String.prototype.indexOf);
const sliceText = uncurry(String.prototype.slice);
const { parse: parseJson, stringify: toJson } = JSON;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const realExit = Deno.exit;
const cpuUsage = Deno.cpuUsage;

const [inputPath, outputPath] = Deno.args;
const input = Deno.openSync(inputPath, { read: true });
const output = Deno.openSync(outputPath, { write: true });
Deno.permissions.revokeSync({ name: "read", path: inputPath });
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

let current = null; // the invocation in flight
let limits = { logBytes: 65536, bodyBytes: 6 * 1024 * 1024 };

function describe(value) {
  if (typeof value === "string") return value;
  try {
    return Deno.inspect(value, { depth: 4, colors: false });
  } catch {
    return String(value);
  }
}

function capture(level, args) {
  if (current === null) return;
  const message = args.map(describe).join(" ");
  const size = encodeText(encoder, message).length;
  if (current.logSize + size > limits.logBytes) {
    current.truncated = true;
    return;
  }
  current.logSize += size;
  current.logs.push({ timestamp: new Date().toISOString(), level, message });
}

for (const [method, level] of [["log", "info"], ["info", "info"], ["debug", "debug"], ["warn", "warn"], ["error", "error"], ["trace", "debug"]]) {
  console[method] = (...args) => capture(level, args);
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

// Reads block, between calls too: waiting in Deno's event loop (an asynchronous read)
// cost this process about 60 of its 90 µs of CPU per call (measured). So, as on AWS
// Lambda, whatever a handler left running (a timer, an unawaited promise) is frozen
// until a later call yields to the event loop, and what it logs then is that call's
// output. A read returns the next message, or null at EOF.
const chunk = new Uint8Array(1 << 16);
let pending = "";
function nextMessage() {
  while (true) {
    const newline = indexOf(pending, "\n");
    if (newline >= 0) {
      const line = sliceText(pending, 0, newline);
      pending = sliceText(pending, newline + 1);
      return parseJson(line);
    }
    const read = readSync(input, chunk);
    if (read === null) return null;
    pending += decodeText(decoder, subarray(chunk, 0, read), { stream: true });
  }
}

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

// The current call's questions to the server: `ask(kind, payload)` sends one frame and
// returns the server's answer, which comes before anything else. `answerOf` asks each
// question once per call (a name read twice, or missing, is asked once) and keeps the
// answer on the call, so nothing crosses calls; outside a call there is nothing to ask.
const hasOwn = Object.hasOwn;
const own = (object, key) => (hasOwn(object, key) ? object[key] : undefined);
const NOTHING = Object.freeze({ __proto__: null });
function ask(kind, payload) {
  send({ type: kind, ...payload });
  return nextMessage() ?? realExit(1); // null: the server is gone
}
function answerOf(key, kind, payload) {
  if (current === null) return NOTHING;
  const answers = current.answers;
  if (!(key in answers)) answers[key] = ask(kind, payload);
  return answers[key];
}
function answerFor(kind, name) {
  const text = `${name}`; // converted once: a name's toString may answer differently each time
  return answerOf(`${kind}:${text}`, kind, { name: text });
}

// Deno.env is this facade: the process itself has no environment to show, and each
// invocation brings the variables it may see (allowed FLUXBASE_*, secrets, its own env).
let envAllowed = false;
const refuse = (what) => {
  throw new Deno.errors.NotCapable(`Requires env access${what}: grant the function the "env" permission`);
};
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
const init = nextMessage();
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

while (true) {
  const message = nextMessage();
  if (message === null) break;
  current = { logs: [], logSize: 0, truncated: false, answers: { __proto__: null } };
  let answer;
  try {
    const response = await toResponse(await entry(message.request));
    const size = encodeText(encoder, String(response.body)).length;
    answer = size > limits.bodyBytes
      ? { ok: false, kind: "too_large", size }
      : { ok: true, response };
  } catch (error) {
    answer = error instanceof RangeError && error.message === "Array buffer allocation failed"
      ? { ok: false, kind: "memory" } // the data limit: the server replaces this process
      : { ok: false, kind: "thrown", message: String(error?.message ?? error), stack: String(error?.stack ?? error) };
  }
  const { logs, truncated } = current;
  current = null;
  send({ type: "result", ...answer, logs, truncated });
}
closeSync(input);
closeSync(output);
realExit(0); // the server is gone: nothing a function left behind runs on
