"""Run a command the way ``MemoryDenyWriteExecute=yes`` runs a service::

    python write_execute.py COMMAND [ARGS...]   # exec COMMAND under the filter
    python write_execute.py --check             # exit 0 if the filter refuses W+X memory

systemd (through 253, and later ones on kernels without ``PR_SET_MDWE``) installs a seccomp
filter through libseccomp that answers EPERM to: ``mmap`` asking for a mapping both writable and
executable, ``mprotect`` / ``pkey_mprotect`` making memory executable, ``shmat`` with
``SHM_EXEC``. The same rules are installed here, then COMMAND is executed and inherits them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import mmap
import os
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000
SCMP_CMP_MASKED_EQ = 7
SHM_EXEC = 0o100000
WRITE_EXEC = mmap.PROT_WRITE | mmap.PROT_EXEC


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def deny_write_execute() -> None:
    found = ctypes.util.find_library("seccomp")
    if found is None:
        raise OSError(errno.ENOENT, "libseccomp is not installed")
    lib = ctypes.CDLL(found, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    context = lib.seccomp_init(SCMP_ACT_ALLOW)
    deny = SCMP_ACT_ERRNO | errno.EPERM
    # (system call, mask, value): refused when (third argument & mask) == value
    rules = [
        ("mmap", WRITE_EXEC, WRITE_EXEC),
        ("mprotect", mmap.PROT_EXEC, mmap.PROT_EXEC),
        ("pkey_mprotect", mmap.PROT_EXEC, mmap.PROT_EXEC),
        ("shmat", SHM_EXEC, SHM_EXEC),
    ]
    try:
        for name, mask, value in rules:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            compare = _ArgCmp(2, SCMP_CMP_MASKED_EQ, mask, value)
            status = lib.seccomp_rule_add_array(context, deny, number, 1, ctypes.byref(compare))
            if status < 0:
                raise OSError(-status, f"seccomp rule for {name}")
        status = lib.seccomp_load(context)  # sets no_new_privs, as NoNewPrivileges= does
        if status < 0:
            raise OSError(-status, "seccomp_load")
    finally:
        lib.seccomp_release(context)


def write_execute_refused() -> bool:
    try:
        mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | WRITE_EXEC).close()
    except PermissionError:
        return True
    return False


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    deny_write_execute()
    if argv == ["--check"]:
        return 0 if write_execute_refused() else 1
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
