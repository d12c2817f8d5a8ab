"""A self-signed certificate for a LAN trial: phones allow the camera only on HTTPS pages.

The certificate names this machine as the phone will reach it (its hostname and LAN
addresses), so after the phone's one-time "accept the certificate" step the page loads
without name errors. It is kept in the data directory and reused while it is valid and
still names every address asked for.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 365
# Renew ahead of the end, so a server started today does not fail in the middle of next week.
RENEW_BEFORE = timedelta(days=14)
CERT_NAME = "self-signed-cert.pem"
KEY_NAME = "self-signed-key.pem"


def local_names() -> list[str]:
    """Names and addresses of this machine, found without sending anything over the network."""
    names = ["localhost", "127.0.0.1", "::1"]
    try:
        hostname = socket.gethostname()
    except OSError:
        return names
    names.append(hostname)
    try:
        _, aliases, addresses = socket.gethostbyname_ex(hostname)
        names += aliases + addresses
    except OSError:
        pass
    # Connecting a UDP socket only picks the outgoing interface (no packet is sent); it finds the
    # LAN address on machines whose hostname resolves to 127.0.1.1.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            names.append(probe.getsockname()[0])
    except OSError:
        pass
    return _unique(names)


def _unique(names: list[str]) -> list[str]:
    seen: list[str] = []
    for name in names:
        if name and name not in seen and name != "0.0.0.0":
            seen.append(name)
    return seen


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _usable(cert_path: Path, names: list[str]) -> bool:
    """The existing certificate is unexpired for a while yet and names every one of ``names``."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    if cert.not_valid_after_utc - RENEW_BEFORE < datetime.now(UTC):
        return False
    present = set(san)
    return all(_general_name(name) in present for name in names)


def make_self_signed(data_dir: Path, hostnames: list[str] | None = None) -> tuple[Path, Path]:
    """The paths of a certificate and key naming ``hostnames`` plus this machine; made if needed."""
    names = _unique(local_names() + list(hostnames or []))
    tls_dir = data_dir / "tls"
    cert_path, key_path = tls_dir / CERT_NAME, tls_dir / KEY_NAME
    if key_path.is_file() and _usable(cert_path, names):
        return cert_path, key_path
    tls_dir.mkdir(parents=True, exist_ok=True)

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "RepairSight self-signed")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # The key is written readable by its owner only, from the first byte.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
