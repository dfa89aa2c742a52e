"""A CA and a server certificate for a simulator on 127.0.0.1 / localhost, made with ``openssl``.

Clients that refuse ``http://`` (pysnc) or that must verify a real chain get one without a
Python dependency: the ``openssl`` command ships with Linux distributions, macOS (LibreSSL) and
Git for Windows. Only the simulators' ``--https`` option uses it; bridgeline itself never does.

::

    files = make_tls_files(Path("/tmp/sim-tls"))        # reuses what an earlier start left there
    serve_in_thread(app, certfile=files.cert, keyfile=files.key)
    httpx.get(url, verify=str(files.ca))
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

HOSTS = ("127.0.0.1", "localhost")
CA_DAYS = 3650
SERVER_DAYS = 397  # what clients accept for a server certificate, even from a private CA

_CA_CONFIG = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = bridgeline simulator CA
[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""
_SERVER_CONFIG = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = {cn}
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {names}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


class TLSError(RuntimeError):
    """The certificate files could not be made; the message says what to do instead."""


@dataclass(frozen=True)
class TLSFiles:
    ca: Path  # the CA certificate a client trusts (verify=, REQUESTS_CA_BUNDLE, SSL_CERT_FILE)
    cert: Path  # the server certificate, signed by the CA
    key: Path  # the server's private key


def make_tls_files(folder: Path, hosts: tuple[str, ...] = HOSTS) -> TLSFiles:
    """The CA and server certificate in ``folder``: the ones already there while they stay valid for
    a day more (a client keeps trusting the same CA across restarts), else new ones."""
    folder.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TLSError(
            "--https needs the openssl command, which is not on PATH: install OpenSSL, "
            "or give a certificate and key of your own (--tls-cert and --tls-key)"
        )
    if all(p.exists() for p in (files.ca, files.cert, files.key)) and _still_valid(openssl, files.cert):
        return files
    _generate(openssl, folder, files, hosts)
    return files


def _still_valid(openssl: str, cert: Path) -> bool:
    result = subprocess.run(
        [openssl, "x509", "-checkend", "86400", "-noout", "-in", str(cert)], capture_output=True, check=False
    )
    return result.returncode == 0


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _generate(openssl: str, folder: Path, files: TLSFiles, hosts: tuple[str, ...]) -> None:
    ca_key, csr = folder / "ca-key.pem", folder / "server.csr"
    ca_config, server_config = folder / "ca.cnf", folder / "server.cnf"
    names = ", ".join(f"IP:{h}" if _is_address(h) else f"DNS:{h}" for h in hosts)
    ca_config.write_text(_CA_CONFIG)
    server_config.write_text(_SERVER_CONFIG.format(cn=hosts[0], names=names))
    new_key = ["-newkey", "rsa:2048", "-nodes", "-sha256"]
    ca = [*new_key, "-x509", "-keyout", ca_key, "-out", files.ca, "-days", CA_DAYS]
    request = [*new_key, "-new", "-keyout", files.key, "-out", csr, "-config", server_config]
    sign = ["-req", "-in", csr, "-CA", files.ca, "-CAkey", ca_key, "-set_serial", f"0x{secrets.token_hex(8)}"]
    extensions = ["-extfile", server_config, "-extensions", "server"]
    steps = [
        ["req", *ca, "-config", ca_config, "-extensions", "ca"],  # the CA, self-signed
        ["req", *request],  # the server's key and signing request
        ["x509", *sign, "-days", SERVER_DAYS, "-sha256", "-out", files.cert, *extensions],  # CA-signed
    ]
    try:
        for step in steps:
            command = [openssl, *(str(part) for part in step)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise TLSError(f"openssl could not make the certificates: {result.stderr.strip()}")
    finally:
        for leftover in (csr, ca_config, server_config):
            leftover.unlink(missing_ok=True)
    for private in (ca_key, files.key):
        os.chmod(private, 0o600)
