"""Where a function with `net` may connect: public IPv4 only.

Deno's `--deny-net` takes IPv4 ranges and checks them against the resolved address
(also for IPv4-mapped IPv6, `::ffff:a.b.c.d`), but takes no IPv6 range: Deno 2.9.8
refuses `[fc00::]/7` as an invalid host and matches IPv6 entries only address by
address. Private, unique-local, site-local, link-local, NAT64, 6to4, Teredo and
metadata IPv6 addresses cannot be listed one by one, so a worker may not open IPv6
sockets at all: a seccomp filter, installed in the child before Deno starts, answers
`socket(AF_INET6, …)` with EAFNOSUPPORT. A name with both address kinds falls back to
its IPv4 address; an IPv6-only host is unreachable from a function.

Hand-written (eleven BPF instructions through ctypes): libseccomp's own Python
bindings are not published on PyPI, and the filter is this small.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import socket
import struct

# Every non-public IPv4 range (RFC 6890 special-purpose registry), cloud metadata included
# (169.254.169.254, and 100.100.100.200 in 100.64.0.0/10). IPv6 is refused at the socket.
DENIED_NETWORKS = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "localhost",
    "[::1]",
    "[::]",
)

_LOAD, _JUMP_EQUAL, _JUMP_AT_LEAST, _RETURN = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JGE|K, RET|K
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_X32_SYSCALL_BIT = 0x40000000
# (AUDIT_ARCH_*, socket, io_uring_setup): io_uring could open sockets without the socket call.
_SYSCALLS = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


def net_flags() -> list[str]:
    """The Deno flags of a function granted `net`: everything but the denied networks."""
    return ["--allow-net", "--deny-net=" + ",".join(DENIED_NETWORKS)]


def _instruction(code: int, if_true: int, if_false: int, value: int) -> bytes:
    return struct.pack("=HBBI", code, if_true, if_false, value)


def ipv6_filter(machine: str | None = None) -> bytes:
    """The seccomp program: IPv6 sockets and io_uring refused, foreign-ABI calls refused, all else allowed."""
    arch, socket_call, io_uring_setup = _SYSCALLS[machine or platform.machine()]
    refuse_family, refuse_call = _ERRNO | errno.EAFNOSUPPORT, _ERRNO | errno.ENOSYS
    return b"".join(
        (
            _instruction(_LOAD, 0, 0, 4),  # seccomp_data.arch
            _instruction(_JUMP_EQUAL, 0, 8, arch),  # another ABI: refuse_call
            _instruction(_LOAD, 0, 0, 0),  # seccomp_data.nr
            _instruction(_JUMP_AT_LEAST, 6, 0, _X32_SYSCALL_BIT),  # x32 ABI: refuse_call
            _instruction(_JUMP_EQUAL, 5, 0, io_uring_setup),  # refuse_call
            _instruction(_JUMP_EQUAL, 0, 2, socket_call),  # not socket(): allow
            _instruction(_LOAD, 0, 0, 16),  # seccomp_data.args[0], the address family
            _instruction(_JUMP_EQUAL, 1, 0, socket.AF_INET6),  # refuse_family
            _instruction(_RETURN, 0, 0, _ALLOW),
            _instruction(_RETURN, 0, 0, refuse_family),
            _instruction(_RETURN, 0, 0, refuse_call),
        )
    )


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Ipv6Refusal:
    """A `preexec_fn` that installs the filter in the child; built in the parent, so the child only calls prctl."""

    def __init__(self) -> None:
        self._code = ctypes.create_string_buffer(code := ipv6_filter(), len(code))
        self._program = _Program(len(code) // 8, ctypes.addressof(self._code))
        self._prctl = ctypes.CDLL(None, use_errno=True).prctl
        self._prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

    def __call__(self) -> None:
        # No new privileges first: the kernel requires it to install a filter without CAP_SYS_ADMIN.
        if self._prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if self._prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(self._program), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


refuse_ipv6 = Ipv6Refusal()
