"""`hub run` over TLS, with client certificates signed by a configured CA mapped to registered
clients (mutual TLS, as on HSCN-style links), against a real process and real sockets."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import json
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import isolated_settings
from tests.integration.hub_process import HubProcess

pytestmark = pytest.mark.kafka


def _issue(
    name: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, *, ca: bool = False
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256()), key


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


async def test_https_with_client_certificates_mapped_to_organisations(
    kafka: str, sqlite_url: str, tmp_path: Path
) -> None:
    ca = _issue("EHC hub test CA", None, ca=True)
    ca_path, _ = _write(tmp_path / "ca", *ca)
    server_cert, server_key = _write(tmp_path / "server", *_issue("127.0.0.1", ca))
    school = _issue("school-100001 HSCN link", ca)
    school_cert, school_key = _write(tmp_path / "school", *school)
    stranger_cert, stranger_key = _write(tmp_path / "stranger", *_issue("unregistered", ca))
    rogue_ca = _issue("another CA", None, ca=True)
    rogue_cert, rogue_key = _write(tmp_path / "rogue", *_issue("school-100001 forged", rogue_ca))
    fingerprint = hashlib.sha256(school[0].public_bytes(serialization.Encoding.DER)).hexdigest()

    hub = HubProcess(isolated_settings(sqlite_url), kafka, tmp_path / "hub.log")
    hub.env.update(
        HUB_AUTH__TLS_CERT_FILE=server_cert,
        HUB_AUTH__TLS_KEY_FILE=server_key,
        HUB_AUTH__TLS_CLIENT_CA_FILE=ca_path,
        HUB_AUTH__MTLS_CLIENTS=json.dumps({fingerprint: "school-100001"}),
    )
    await asyncio.to_thread(hub.start)
    try:
        assert hub.url.startswith("https://")

        def context(cert: str | None = None, key: str | None = None) -> ssl.SSLContext:
            ctx = ssl.create_default_context(cafile=ca_path)
            if cert:
                ctx.load_cert_chain(cert, key)
            return ctx

        async with httpx.AsyncClient(base_url=hub.url, verify=context(school_cert, school_key)) as as_school:
            inbox = await as_school.get("/api/v1/advice-requests")
            assert inbox.status_code == 200 and inbox.json() == []
            other = await as_school.get("/api/v1/advice-requests", params={"recipient": "100002"})
            assert other.status_code == 403, "the certificate's organisation, not the query, decides"
            assert (await as_school.get("/ops/stats")).status_code == 403
        async with httpx.AsyncClient(base_url=hub.url, verify=context(stranger_cert, stranger_key)) as stranger:
            refused = await stranger.get("/api/v1/advice-requests")
            assert refused.status_code == 403 and "not registered" in refused.json()["error"]
        async with httpx.AsyncClient(base_url=hub.url, verify=context()) as no_certificate:
            assert (await no_certificate.get("/readyz")).status_code == 200, "probes need no certificate"
            assert (await no_certificate.get("/api/v1/advice-requests")).status_code == 401
        with pytest.raises(httpx.HTTPError):  # a certificate from another CA fails the handshake
            async with httpx.AsyncClient(base_url=hub.url, verify=context(rogue_cert, rogue_key)) as rogue:
                await rogue.get("/api/v1/advice-requests")
        async with httpx.AsyncClient(base_url=hub.url.replace("https", "http")) as plaintext:
            with pytest.raises(httpx.HTTPError):
                await plaintext.get("/readyz")
    finally:
        hub.stop()
