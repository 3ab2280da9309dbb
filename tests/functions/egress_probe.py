"""Run inside a network namespace of its own (see test_egress.py): try each target from a real Deno worker.

Prints one JSON object: target -> "connected" or the error the function got. A
listener on every address of this namespace's loopback answers, so a target the
sandbox lets through connects.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import threading

from flask import Flask

from plugins.functions.config import DEFAULTS
from plugins.functions.runtime.base import FunctionSpec, Invocation, Permissions
from plugins.functions.runtime.deno import DenoRuntime

PORT = 8081
CONNECT = """async function handler(req) {
  const results = {};
  for (const target of JSON.parse(req.body)) {
    try {
      const connection = await Deno.connect({ hostname: target, port: PORT });
      connection.close();
      results[target] = "connected";
    } catch (error) {
      results[target] = `${error.name}: ${error.message}`;
    }
  }
  return { status: 200, body: JSON.stringify(results) };
}""".replace("PORT", str(PORT))


def listen() -> None:
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 too, as ::ffff:a.b.c.d
    listener.bind(("::", PORT))
    listener.listen(64)

    def serve() -> None:
        while True:
            listener.accept()[0].close()

    threading.Thread(target=serve, daemon=True).start()


def main(targets: list[str], deno_dir: str) -> None:
    listen()
    with tempfile.TemporaryDirectory() as instance:
        app = Flask("egress-probe", instance_path=instance)
        app.config.update(DEFAULTS, FUNCTIONS_DENO_DIR=deno_dir)
        runtime = DenoRuntime(app)
        spec = FunctionSpec("probe", 1, CONNECT, 20, 128, Permissions(net=True), "per-invocation")
        outcome = runtime.invoke(spec, Invocation(request={"method": "POST", "body": json.dumps(targets)}))
        runtime.close()
    print(outcome.response["body"] if outcome.response else json.dumps({"error": outcome.error}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), sys.argv[2])
