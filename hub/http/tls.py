"""Client certificates for the app: uvicorn verifies them during the TLS handshake but does not pass
them on, so this protocol adds the ASGI TLS extension (``scope["extensions"]["tls"]``) with the
peer's certificate to every request of the connection. The authenticator maps a registered
certificate to its client, for links (HSCN-style) that authenticate by mutual TLS."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class ClientCertificateProtocol(HttpToolsProtocol):
    _client_cert_chain: list[str]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        self._client_cert_chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []

    def on_message_begin(self) -> None:
        super().on_message_begin()
        scope: Any = self.scope
        scope["extensions"] = {"tls": {"client_cert_chain": self._client_cert_chain, "tls_version": None}}
