"""The self-signed certificate for LAN trials: names, reuse, renewal, key permissions."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509

from server.tls import make_self_signed


def names_in(cert_path: Path) -> tuple[x509.Certificate, set[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(san.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return cert, dns | ips


def test_a_certificate_names_this_machine_and_the_given_host(tmp_path: Path) -> None:
    cert_path, key_path = make_self_signed(tmp_path, ["repair.lan", "192.168.7.20"])
    cert, names = names_in(cert_path)
    assert {"localhost", "127.0.0.1", "repair.lan", "192.168.7.20"} <= names
    assert cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=300)
    assert key_path.stat().st_mode & 0o077 == 0
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_path, key_path)


def test_the_certificate_is_reused_while_it_fits(tmp_path: Path) -> None:
    cert_path, _ = make_self_signed(tmp_path, ["repair.lan"])
    first = cert_path.read_bytes()
    assert make_self_signed(tmp_path, ["repair.lan"])[0].read_bytes() == first
    assert make_self_signed(tmp_path, [])[0].read_bytes() == first


def test_a_new_name_or_a_broken_file_makes_a_new_certificate(tmp_path: Path) -> None:
    cert_path, _ = make_self_signed(tmp_path, ["repair.lan"])
    first = cert_path.read_bytes()
    make_self_signed(tmp_path, ["other.lan"])
    assert cert_path.read_bytes() != first
    assert "other.lan" in names_in(cert_path)[1]

    cert_path.write_text("not a certificate")
    make_self_signed(tmp_path, [])
    assert "localhost" in names_in(cert_path)[1]
