"""A function with `net` reaches public IPv4 only: every private, loopback, link-local,
unique-local, site-local, NAT64, 6to4, Teredo, IPv4-embedding and metadata address is
refused, by literal and by a name that resolves there.

No packet leaves this machine even if the sandbox is broken: IPv4 ranges are checked
with Deno's permission query (no traffic), and connections are tried in a network
namespace the test creates (`unshare --net`), whose loopback carries every target
address and a listener, so a target the sandbox let through would connect.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.functions.runtime.egress import DENIED_NETWORKS, ipv6_filter
from tests.functions.conftest import call, deploy

ROOT = Path(__file__).resolve().parents[2]
QUERY = """async function handler(req) {
  const states = {};
  for (const host of JSON.parse(req.body)) {
    states[host] = (await Deno.permissions.query({ name: "net", host })).state;
  }
  return { status: 200, body: JSON.stringify(states) };
}"""
# One address of each denied IPv4 family, cloud metadata included, and their IPv4-mapped form.
DENIED_IPV4 = [
    "0.0.0.0:80",
    "10.1.2.3:80",
    "100.100.100.200:80",  # Alibaba Cloud metadata, in 100.64.0.0/10
    "127.0.0.1:80",
    "169.254.169.254:80",
    "172.16.5.4:80",
    "192.0.0.170:80",
    "192.0.2.1:80",
    "192.88.99.1:80",
    "192.168.1.1:80",
    "198.18.0.1:80",
    "198.51.100.1:80",
    "203.0.113.1:80",
    "224.0.0.1:80",
    "255.255.255.255:80",
    "localhost:80",
    "[::ffff:10.1.2.3]:80",
    "[::ffff:169.254.169.254]:80",
    "[::ffff:127.0.0.1]:80",
    "[::1]:80",
]
# Every IPv6 family the issue names (one address each), and a public one: IPv6 is refused at the socket.
IPV6 = {
    "::1": "loopback",
    "::": "unspecified (reaches this host)",
    "fd00::2": "unique local",
    "fc00::1": "unique local",
    "fe80::1": "link-local",
    "fec0::1": "site-local",
    "::a00:1": "IPv4-compatible (::/96)",
    "64:ff9b::a00:1": "NAT64 of 10.0.0.1",
    "64:ff9b:1::a00:1": "local-use NAT64",
    "2002:a00:1::1": "6to4 of 10.0.0.1",
    "2002:a9fe:a9fe::1": "6to4 of 169.254.169.254",
    "2001::1": "Teredo",
    "fd00:ec2::254": "AWS metadata over IPv6",
    "2001:db8::1": "documentation (any IPv6)",
}
IPV4 = ["10.0.0.1", "169.254.169.254", "100.100.100.200", "192.168.1.1", "172.16.0.1", "127.0.0.1", "0.0.0.0"]
PUBLIC = "93.184.216.34"  # only ever on the namespace's own loopback
NAMES = {
    "ula.test": "fd00::2",
    "metadata6.test": "fd00:ec2::254",
    "nat64.test": "64:ff9b::a00:1",
    "sixtofour.test": "2002:a00:1::1",
    "loopback6.test": "::1",
    "private.test": "10.0.0.1",
    "metadata.test": "169.254.169.254",
    "public.test": PUBLIC,
}
# Addresses the namespace's loopback carries; fe80::1 needs a zone to be reached, so it is left off.
ON_LOOPBACK = [*(a for a in IPV6 if a not in ("::1", "::", "fe80::1")), *IPV4[:-2], PUBLIC]


def test_the_deny_list_covers_every_non_public_ipv4_family(client, admin_headers):
    deploy(client, admin_headers, "query", code=QUERY, permissions={"net": True})
    public = ["93.184.216.34:443", "example.com:443", "[2606:2800:220:1::1]:443"]
    states = call(client, "query", admin_headers, data=json.dumps(DENIED_IPV4 + public)).get_json(force=True)
    assert {host for host, state in states.items() if state != "denied"} == set(public), states


def test_the_seccomp_program_is_well_formed():
    for machine in ("x86_64", "aarch64"):
        program = ipv6_filter(machine)
        assert len(program) == 11 * 8
    assert {"169.254.0.0/16", "100.64.0.0/10", "10.0.0.0/8", "[::1]"} <= set(DENIED_NETWORKS)


def in_network_namespace(tmp_path: Path, deno_dir: Path, targets: list[str]) -> dict[str, str]:
    """Connect to each target from a real Deno worker, inside a network and mount namespace of its own."""
    hosts = tmp_path / "hosts"
    hosts.write_text("".join(f"{address} {name}\n" for name, address in NAMES.items()))
    hosts.write_text(hosts.read_text() + f"fd00::2 dual.test\n{PUBLIC} dual.test\n")
    setup = ["ip link set lo up"]
    setup += [f"ip addr add {address}/{128 if ':' in address else 32} dev lo" for address in ON_LOOPBACK]
    setup += [f"mount --bind {hosts} /etc/hosts"]
    probe = f"exec {sys.executable} -m tests.functions.egress_probe '{json.dumps(targets)}' {deno_dir}"
    done = subprocess.run(
        ["unshare", "--net", "--mount", "sh", "-ec", " && ".join([*setup, probe])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare and root")
def test_ipv6_and_private_ipv4_are_refused_by_literal_and_by_name(tmp_path, deno_dir):
    targets = [*IPV6, *IPV4, PUBLIC, *NAMES, "dual.test"]
    results = in_network_namespace(tmp_path, deno_dir, targets)
    assert results.pop(PUBLIC) == "connected"  # the namespace works: an allowed address connects
    assert results.pop("public.test") == "connected"
    assert results.pop("dual.test") == "connected"  # a name with a public IPv4 address falls back to it
    assert set(results) == set(targets) - {PUBLIC, "public.test", "dual.test"}
    for target, result in results.items():
        refused = result.startswith("NotCapable") or "Address family not supported" in result
        assert refused, (target, IPV6.get(target, NAMES.get(target)), result)
