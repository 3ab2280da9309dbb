"""Every sandbox promise as an attack that must fail, with the server answering throughout.

Each attacking function reports what it managed (or the error it got) in its response,
so a test fails on the leak itself, not only on a status code.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from flux.config import ConfigError
from plugins.functions.runtime.egress import DENIED_NETWORKS
from tests.conftest import AuthActions
from tests.functions.conftest import BASE, HELLO, call, deploy, warm_workers, worker_pids

ATTEMPT = """async function handler(req) {
  try {
    return { status: 200, body: JSON.stringify({ got: String(await (ATTACK)) }) };
  } catch (error) {
    return { status: 200, body: JSON.stringify({ refused: error.name, message: error.message }) };
  }
}"""


def attempt(expression: str) -> str:
    return ATTEMPT.replace("ATTACK", expression)


def outcome(client, name: str, headers: dict) -> dict:
    response = call(client, name, headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json(force=True)


def still_serving(client, headers: dict) -> None:
    assert client.get("/health").status_code == 200
    deploy(client, headers, "after-attack")
    assert call(client, "after-attack", headers).json == {"message": "Hello World!"}


def test_reading_a_server_file_is_refused(app, client, admin_headers):
    target = Path(app.instance_path) / "jwt.secret"
    assert target.exists()
    deploy(client, admin_headers, "read", code=attempt(f"Deno.readTextFile({str(target)!r})"))
    deploy(
        client,
        admin_headers,
        "read-granted",
        code=attempt(f"Deno.readTextFile({str(target)!r})"),
        permissions={"read": True},
    )
    for name in ("read", "read-granted"):  # `read` grants the function's scratch folder, nothing else
        result = outcome(client, name, admin_headers)
        assert result["refused"] == "NotCapable" and "got" not in result
        assert target.read_text() not in str(result)


@pytest.mark.parametrize("kind", ["text", "json"])
def test_a_static_import_of_a_server_file_fails(app, client, admin_headers, kind):
    target = Path(app.instance_path) / f"leak.{kind}"
    target.write_text('"server-only-content-7f3a"')
    code = f'import leaked from "{target.as_uri()}" with {{ type: "{kind}" }};\n' + HELLO.replace(
        "`Hello ${data.name || 'World'}!`", "leaked"
    )
    created = client.post(BASE, json={"name": "importer", "code": code}, headers=admin_headers)
    if created.status_code == 201:
        response = call(client, "importer", admin_headers)
        assert response.status_code == 500 and "server-only-content" not in response.get_data(as_text=True)
        execution = client.get(f"{BASE}/importer/executions", headers=admin_headers).json[0]
        assert "Function failed to load" in execution["error"] and "Requires read access" in execution["error"]
    else:
        assert created.status_code == 400 and "server-only-content" not in created.get_data(as_text=True)
    still_serving(client, admin_headers)


@pytest.fixture
def local_http_server():
    """An HTTP server on 127.0.0.1, standing in for this server, its database or its neighbours."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "url",
    [
        "LOCAL",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:5432/",
        "http://10.0.0.1/",
        "http://[::1]:5432/",
    ],
)
def test_net_cannot_reach_private_addresses(client, admin_headers, local_http_server, url):
    url = local_http_server if url == "LOCAL" else url
    deploy(
        client,
        admin_headers,
        "fetcher",
        code=attempt(f"fetch({url!r}).then((r) => r.status)"),
        permissions={"net": True},
        timeout=10,
    )
    result = outcome(client, "fetcher", admin_headers)
    assert result.get("refused") == "NotCapable", result


def test_network_off_refuses_everything(client, admin_headers):
    deploy(client, admin_headers, "offline", code=attempt("fetch('http://example.com/')"), permissions={"net": False})
    assert outcome(client, "offline", admin_headers)["refused"] == "NotCapable"


ENV_ATTEMPT = attempt("JSON.stringify(Deno.env.toObject())")
SERVER_VARIABLES = {
    "FLUXBASE_AUTH_JWT_SECRET": "jwt-secret-canary",
    "FLUXBASE_ENCRYPTION_KEY": "encryption-key-canary",
    "FLUXBASE_DATABASE_URL": "postgresql://user:pw-canary@db/x",
    "FLUXBASE_SERVICE_ROLE_KEY": "service-role-canary",
    "FLUXBASE_DATABASE_PASSWORD": "db-password-canary",
    "FLUXBASE_SECURITY_SETUP_TOKEN": "setup-token-canary",
    "FLUXBASE_SMTP_API_TOKEN": "pattern-canary",
    "FLUXBASE_APIKEY": "apikey-canary",  # names a credential filter by name let through
    "FLUXBASE_DB_PASS": "db-pass-canary",
    "FLUXBASE_MY_CONFIG": "not-allowlisted-canary",
    "HOME_SECRET_OUTSIDE_PREFIX": "not-fluxbase-canary",
    "FLUXBASE_BASE_URL": "https://api.example.com",
}


def server_env(client, headers: dict) -> dict:
    deploy(client, headers, "env", code=ENV_ATTEMPT, env={"OWN_SETTING": "mine"})
    seen = outcome(client, "env", headers)
    return json.loads(seen["got"])


def test_only_allowlisted_server_variables_reach_a_function(client, admin_headers, monkeypatch):
    for name, value in SERVER_VARIABLES.items():
        monkeypatch.setenv(name, value)
    variables = server_env(client, admin_headers)
    assert "canary" not in str(variables)
    assert variables == {"FLUXBASE_BASE_URL": "https://api.example.com", "OWN_SETTING": "mine"}


def test_functions_allowed_env_extends_the_allowlist(make_app, deno_dir, monkeypatch):
    monkeypatch.setenv("FLUXBASE_FUNCTIONS_ALLOWED_ENV", "FLUXBASE_MY_CONFIG, FLUXBASE_UNSET")
    app = make_app(FUNCTIONS_DENO_DIR=str(deno_dir))
    for name, value in SERVER_VARIABLES.items():  # after start-up: some of them are settings
        monkeypatch.setenv(name, value)
    client = app.test_client()
    try:
        actions = AuthActions(client)
        variables = server_env(client, actions.bearer(actions.setup_admin()))
    finally:
        app.extensions["functions"]["runtime"].close()
    assert variables == {
        "FLUXBASE_BASE_URL": "https://api.example.com",
        "FLUXBASE_MY_CONFIG": "not-allowlisted-canary",
        "OWN_SETTING": "mine",
    }


@pytest.mark.parametrize("name", ["FLUXBASE_ENCRYPTION_KEY", "FLUXBASE_SECRET_API_KEY", "PATH"])
def test_the_server_keys_cannot_be_allowlisted(make_app, monkeypatch, name):
    monkeypatch.setenv("FLUXBASE_FUNCTIONS_ALLOWED_ENV", f"FLUXBASE_MY_CONFIG,{name}")
    with pytest.raises(ConfigError, match=f"refused: {name}$"):
        make_app()


def test_without_env_permission_deno_env_is_refused(client, admin_headers):
    deploy(
        client,
        admin_headers,
        "noenv",
        code=attempt("Deno.env.get('OWN')"),
        env={"OWN": "x"},
        permissions={"env": False},
    )
    assert outcome(client, "noenv", admin_headers)["refused"] == "NotCapable"


@pytest.mark.parametrize(
    "expression",
    [
        "new Deno.Command('/usr/bin/id').output()",
        "Deno.dlopen('libc.so.6', {})",
        "Deno.osRelease()",
        "Deno.writeTextFile('/tmp/fluxbase-escape', 'x')",
    ],
)
def test_processes_ffi_system_and_writes_are_refused(client, admin_headers, expression):
    deploy(client, admin_headers, "escape", code=attempt(expression))
    result = outcome(client, "escape", admin_headers)
    assert result["refused"] == "NotCapable", result
    assert not Path("/tmp/fluxbase-escape").exists()


def test_write_reaches_only_the_scratch_folder_never_deno_dir(app, client, admin_headers, deno_dir):
    code = attempt("Deno.writeTextFile(Deno.env.get('TARGET') + '/planted.js', 'x')")
    deploy(client, admin_headers, "planter", code=code, permissions={"write": True}, env={"TARGET": str(deno_dir)})
    assert outcome(client, "planter", admin_headers)["refused"] == "NotCapable"
    assert not (deno_dir / "planted.js").exists()


def test_functions_cannot_pass_data_to_each_other(client, admin_headers):
    probe = "[typeof localStorage, typeof sessionStorage, typeof caches, typeof BroadcastChannel, globalThis.shared]"
    writer = "async function handler(req) { globalThis.shared = 'from-writer'; return 'written' }"
    deploy(client, admin_headers, "writer", code=writer)
    deploy(client, admin_headers, "reader", code=attempt(probe))
    assert call(client, "writer", admin_headers).json == "written"
    assert outcome(client, "reader", admin_headers)["got"] == "undefined,undefined,undefined,undefined,"


def test_an_infinite_loop_times_out_and_the_server_goes_on(client, admin_headers):
    deploy(client, admin_headers, "spin", code="async function handler(req) { while (true) {} }", timeout=1)
    response = call(client, "spin", admin_headers)
    assert (response.status_code, response.json) == (504, {"error": "Function timed out after 1 s"})
    execution = client.get(f"{BASE}/spin/executions", headers=admin_headers).json[0]
    assert (execution["status"], execution["status_code"]) == ("timeout", 504)
    still_serving(client, admin_headers)


def test_top_level_code_runs_within_the_function_timeout(client, admin_headers):
    """Loading runs the module's own code: a loop there held a 1 s call (and burned CPU) for 20 s."""
    spin = "while (true) {}\nasync function handler(req) { return 1 }"
    deploy(client, admin_headers, "spin-at-load", code=spin, timeout=1)
    started = time.monotonic()
    response = call(client, "spin-at-load", admin_headers)
    assert time.monotonic() - started < 5
    assert (response.status_code, response.json) == (504, {"error": "Function timed out after 1 s loading its code"})
    still_serving(client, admin_headers)


def test_an_arraybuffer_memory_bomb_is_stopped(client, admin_headers):
    bomb = """async function handler(req) {
      const kept = [];
      while (true) { const block = new Uint8Array(16 * 1024 * 1024); block.fill(1); kept.push(block); }
    }"""
    deploy(client, admin_headers, "bomb", code=bomb, memory=64, timeout=30)
    response = call(client, "bomb", admin_headers)
    assert response.status_code == 500
    assert response.json == {"error": "Function exceeded its memory limit of 64 MB and was stopped"}
    still_serving(client, admin_headers)


def test_a_10_mb_response_is_502(client, admin_headers):
    big = "async function handler(req) { return { status: 200, body: 'x'.repeat(10 * 1024 * 1024) } }"
    deploy(client, admin_headers, "big", code=big, memory=256)
    response = call(client, "big", admin_headers)
    assert response.status_code == 502 and "limit is 6291456 bytes" in response.json["error"]
    assert len(response.get_data()) < 1000


def test_stdout_cannot_forge_an_answer(client, admin_headers):
    forge = """async function handler(req) {
      const frame = '{"type":"result","ok":true,"response":{"status":200,"body":"forged"}}';
      const fake = '\\n0123456789abcdef0123456789abcdef ' + frame + '\\n';
      await Deno.stdout.write(new TextEncoder().encode(fake));
      console.log(fake);
      return { status: 200, body: "genuine" };
    }"""
    deploy(client, admin_headers, "forger", code=forge)
    response = call(client, "forger", admin_headers)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "genuine")
    logs = client.get(f"{BASE}/forger/logs", headers=admin_headers).json
    assert any("forged" in line["message"] for line in logs)  # kept as the function's own output


def test_errors_outside_the_handler_are_logged_and_the_worker_survives(app, client, admin_headers):
    code = """async function handler(req) {
      setTimeout(() => { throw new Error("timer failure") }, 0);
      Promise.reject(new Error("forgotten rejection"));
      await new Promise((resolve) => setTimeout(resolve, 20));
      return "still fine";
    }"""
    deploy(client, admin_headers, "sloppy", code=code)
    assert call(client, "sloppy", admin_headers).json == "still fine"
    assert call(client, "sloppy", admin_headers).json == "still fine"
    assert warm_workers(app) == 1
    messages = [line["message"] for line in client.get(f"{BASE}/sloppy/logs", headers=admin_headers).json]
    assert any("timer failure" in message for message in messages)
    assert any("forgotten rejection" in message for message in messages)


def test_deno_exit_is_not_available(client, admin_headers):
    deploy(client, admin_headers, "quitter", code=attempt("Deno.exit(0)"))
    assert "not available" in outcome(client, "quitter", admin_headers)["message"]


def test_console_output_is_capped_at_64_kib(client, admin_headers):
    code = "async function handler(req) { for (let i = 0; i < 400; i++) console.log('x'.repeat(1000)); return 'ok' }"
    deploy(client, admin_headers, "chatty", code=code)
    assert call(client, "chatty", admin_headers).json == "ok"
    execution = client.get(f"{BASE}/chatty/executions", headers=admin_headers).json[0]
    assert execution["logs_truncated"] is True
    assert 60_000 <= sum(len(line["message"]) for line in execution["logs"]) <= 64 * 1024


def test_warm_workers_share_state_and_per_invocation_ones_do_not(client, admin_headers):
    counter = "let calls = 0;\nasync function handler(req) { calls += 1; return calls }"
    deploy(client, admin_headers, "warm", code=counter)
    deploy(client, admin_headers, "fresh", code=counter, isolation="per-invocation")
    assert [call(client, "warm", admin_headers).json for _ in range(3)] == [1, 2, 3]
    assert [call(client, "fresh", admin_headers).json for _ in range(3)] == [1, 1, 1]


def test_worker_command_and_environment(app, client, admin_headers, monkeypatch):
    monkeypatch.setenv("FLUXBASE_AUTH_JWT_SECRET", "never-in-a-child")
    deploy(client, admin_headers, "f", permissions={"net": True, "read": True, "write": True})
    assert call(client, "f", admin_headers).status_code == 200
    [pid] = worker_pids(app)
    command = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert {"--no-prompt", "--no-remote", "--no-npm", "--cached-only"} <= set(command)
    assert not [
        flag for flag in command if flag.startswith(("--allow-run", "--allow-ffi", "--allow-sys", "--allow-all"))
    ]
    assert "-A" not in command and "--allow-env" not in command
    [readable] = [flag.removeprefix("--allow-read=").split(",") for flag in command if flag.startswith("--allow-read=")]
    [writable] = [
        flag.removeprefix("--allow-write=").split(",") for flag in command if flag.startswith("--allow-write=")
    ]
    assert len(readable) == 4 and "/modules/" in readable[0] and "/scratch/" in readable[1]
    assert len(writable) == 2 and "/scratch/" in writable[0]
    channel = [Path(readable[2]), Path(readable[3]), Path(writable[1])]  # the protocol's FIFOs: gone once held
    assert [path.name for path in channel] == ["input", "answers", "output"]
    assert not any(path.exists() for path in channel)
    [denied] = [flag for flag in command if flag.startswith("--deny-net=")]
    assert set(denied.removeprefix("--deny-net=").split(",")) == set(DENIED_NETWORKS)
    assert {"169.254.0.0/16", "127.0.0.0/8", "10.0.0.0/8"} <= set(DENIED_NETWORKS)
    environment = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    names = {entry.split("=", 1)[0] for entry in environment if entry}
    assert names == {"DENO_DIR", "DENO_NO_UPDATE_CHECK", "DENO_TLS_CA_STORE", "NO_COLOR", "HOME"}


MARKER = "server-only-marker-5c2e"


@pytest.fixture
def server_files(app) -> dict[str, Path]:
    """Files beside the server's own, outside any function's code, holding a marker."""
    folder = Path(app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"text": folder / "private.txt", "ts": folder / "private.ts", "json": folder / "private.json"}
    files["text"].write_text(f"{MARKER}\n")
    files["ts"].write_text(f'export const {MARKER.replace("-", "_")} = "{MARKER}";\nthis is not typescript {MARKER}\n')
    files["json"].write_text(json.dumps({MARKER.replace("-", "_"): MARKER}))
    return files


def refused_import(client, headers: dict, code: str) -> str:
    """The 400 a create answers for `code`; nothing is stored."""
    response = client.post(BASE, json={"name": "importer", "code": code}, headers=headers)
    assert (response.status_code, response.json["code"]) == (400, "CODE_INVALID"), response.json
    assert client.get(f"{BASE}/importer", headers=headers).status_code == 404
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("specifier", "named"),
    [
        ("TS", "../../../private.ts"),  # the server's folder is named relative to the code, never absolutely
        ("file:TS", "../../../private.ts"),
        ("TEXT", "../../../private.txt"),
        ("/proc/self/environ", "/proc/self/environ"),
        ("/dev/zero", "/dev/zero"),
        ("/etc/passwd", "/etc/passwd"),
        ("/etc/shadow", "/etc/shadow"),
        ("./other.ts", "./other.ts"),
        ("../../jwt.secret", "../../jwt.secret"),
    ],
)
def test_the_check_reads_no_server_file_and_names_the_import(
    app, client, admin_headers, server_files, specifier, named
):
    files = {"TS": str(server_files["ts"]), "file:TS": server_files["ts"].as_uri(), "TEXT": str(server_files["text"])}
    body = refused_import(client, admin_headers, f'import "{files.get(specifier, specifier)}";\n{HELLO}')
    assert f'the code imports \\"{named}\\": a function can import only its own code' in body, body
    assert MARKER not in body and MARKER.replace("-", "_") not in body and app.instance_path not in body
    assert "root:" not in body and "PATH=" not in body


def test_a_json_import_cannot_leak_a_file_through_its_type(client, admin_headers, server_files):
    code = f'import data from "{server_files["json"]}" with {{ type: "json" }};\nconst n: number = data;\n{HELLO}'
    body = refused_import(client, admin_headers, code)
    assert MARKER.replace("-", "_") not in body and "../../../private.json" in body


def created_with_tools(client, headers: dict, folder: Path, bwrap: str | None) -> dict:
    """Create a function with PATH holding only the sandbox's other tools, and `bwrap` as given (a script) or none."""
    folder.mkdir()
    for name in ("prlimit", "setpriv", "ldd"):
        (folder / name).symlink_to(shutil.which(name))
    if bwrap is not None:
        (folder / "bwrap").write_text(bwrap)
        (folder / "bwrap").chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", str(folder))
        response = client.post(BASE, json={"name": "unchecked", "code": HELLO}, headers=headers)
    assert response.status_code == 503, response.json
    assert client.get(f"{BASE}/unchecked", headers=headers).status_code == 404
    return response.json


def test_without_bubblewrap_a_function_is_refused_never_checked_unconfined(client, admin_headers, tmp_path):
    refused = created_with_tools(client, admin_headers, tmp_path / "tools", bwrap=None)
    assert refused["code"] == "SANDBOX_UNAVAILABLE" and "bubblewrap" in refused["error"]


def test_a_sandbox_that_cannot_start_is_503_not_a_compile_error(client, admin_headers, tmp_path):
    # The real bwrap, failing as it does where user namespaces are not allowed: before running anything.
    failing = f'#!/bin/sh\nexec {shutil.which("bwrap")} --no-such-option-here "$@"\n'
    refused = created_with_tools(client, admin_headers, tmp_path / "tools", bwrap=failing)
    assert refused["code"] == "SANDBOX_UNAVAILABLE" and "sandbox could not start: bwrap:" in refused["error"]


def test_workers_are_refused_and_no_realm_reaches_storage(client, admin_headers):
    probes = {
        "web": "new Worker('data:text/javascript,postMessage(1)', { type: 'module' })",
        "node": "import('node:worker_threads').then((m) => new m.Worker('1', { eval: true }))",
        "node-subclass": "import('node:worker_threads')"
        ".then((m) => new (class extends m.Worker {})('1', { eval: true }))",
        "storage": "[typeof caches, typeof CacheStorage, typeof localStorage, typeof sessionStorage, "
        "typeof (globalThis as any).indexedDB, typeof BroadcastChannel, typeof Deno.openKv].join()",
        # Computed specifiers: a save refuses the literal ones (IMPORT_BLOCKED); the sandbox must hold for these.
        "vm": "import('node:' + 'vm').then((vm) => [vm.runInNewContext('typeof caches'), "
        "vm.runInNewContext('this.constructor.constructor(\"return typeof caches\")()')].join())",
    }
    for name, probe in probes.items():
        deploy(client, admin_headers, f"probe-{name}", code=attempt(probe))
    for name in ("web", "node", "node-subclass"):
        assert "Workers are not available" in outcome(client, f"probe-{name}", admin_headers)["message"], name
    assert outcome(client, "probe-storage", admin_headers)["got"] == ",".join(["undefined"] * 7)
    assert outcome(client, "probe-vm", admin_headers)["got"] == "undefined,undefined"


def test_the_cpu_limit_signal_cannot_be_caught(client, admin_headers):
    deploy(client, admin_headers, "catcher", code=attempt("Deno.addSignalListener('SIGXCPU', () => {})"))
    deploy(
        client,
        admin_headers,
        "node-catcher",
        code=attempt("import('node:' + 'process').then((p) => p.default.on('SIGXCPU', () => {}))"),
    )
    for name in ("catcher", "node-catcher"):
        assert "SIGXCPU is not available" in outcome(client, name, admin_headers)["message"], name


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_nothing_a_call_started_burns_cpu_after_it(app, client, admin_headers):
    code = """async function handler(req) {
      const spin = "let x = 0; while (true) { x++ }";
      try { new Worker(`data:text/javascript,${spin}`, { type: "module" }) } catch {}
      setTimeout(() => { while (true) {} }, 0);
      return "returned";
    }"""
    deploy(client, admin_headers, "leaver", code=code, timeout=2, memory=512)
    assert call(client, "leaver", admin_headers).json == "returned"
    [pid] = worker_pids(app)
    before = cpu_seconds(pid)
    time.sleep(1.5)
    assert cpu_seconds(pid) - before < 0.3


FORGER = """const realEncode = TextEncoder.prototype.encode;
const forged = JSON.stringify({ type: "result", ok: true, response: { status: 200, headers: {}, body: "forged" },
  logs: [], truncated: false, cpu: 0 });
let armed = false;
TextEncoder.prototype.encode = function (text) {
  const nonce = /^\\n([0-9a-f]{32}) /.exec(String(text));
  if (nonce && armed) {  // the old protocol's frame: answer for the next caller, with the stolen nonce
    armed = false;
    (Deno as any)[(Deno as any).internal]?.core?.print(`\\n${nonce[1]} ${forged}\\n`);
  }
  return realEncode.call(this, String(text).length > 1024 * 1024 ? "small" : text);
};
async function handler(req) {
  armed = req.params.arm === "1";
  (Deno as any)[(Deno as any).internal]?.core?.print(`\\n${forged}\\n`);
  await Deno.stdout.write(new TextEncoder().encode(`\\n${forged}\\n`));
  const fs = await import("node:" + "fs");  // computed: a save refuses "node:fs" itself
  for (let fd = 3; fd < 64; fd++) {  // whatever descriptor or resource the protocol might be on
    try { fs.writeSync(fd, `\\n${forged}\\n`) } catch {}
    for (const path of [`/proc/self/fd/${fd}`, `/dev/fd/${fd}`]) {
      try { Deno.openSync(path, { write: true }).writeSync(new TextEncoder().encode(`\\n${forged}\\n`)) } catch {}
    }
  }
  for (const path of Deno.args) {
    try { Deno.writeTextFileSync(path, `\\n${forged}\\n`) } catch {}
  }
  if (req.params.big) return { status: 200, body: "x".repeat(8 * 1024 * 1024) };
  return { status: 200, body: `genuine ${req.params.n}` };
}"""


def test_user_code_cannot_forge_a_frame_or_pass_the_body_limit(app, client, admin_headers):
    deploy(client, admin_headers, "forger", code=FORGER, memory=256)
    answers = [call(client, "forger", admin_headers, query_string={"arm": "1", "n": n}) for n in range(3)]
    assert [answer.get_data(as_text=True) for answer in answers] == ["genuine 0", "genuine 1", "genuine 2"]
    big = call(client, "forger", admin_headers, query_string={"big": "1"})
    assert big.status_code == 502 and "limit is 6291456 bytes" in big.json["error"]
    assert call(client, "forger", admin_headers, query_string={"n": "after"}).get_data(as_text=True) == "genuine after"
