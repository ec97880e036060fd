"""How uvicorn serves the command centre: plain HTTP, or HTTPS with the server's own certificate.

With ``HttpsSettings.certificate_file`` and ``key_file`` the server speaks TLS 1.2 or 1.3 only, with forward-secret
AEAD cipher suites on TLS 1.2 (TLS 1.3's are all so). The certificate is loaded when the config is built, before
anything starts, so a wrong file is an error at once rather than at the first connection.
"""

import ssl
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from vigil.command.errors import CertificateUnusable
from vigil.command.settings import CommandSettings, HttpsSettings

TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""OpenSSL's names of the TLS 1.2 suites offered: ECDHE key exchange, AES-GCM or ChaCha20-Poly1305."""


def server_config(app: FastAPI, settings: CommandSettings, **options: Any) -> uvicorn.Config:
    """Uvicorn's config for ``app`` on the settings' host and port, HTTPS when they give a certificate.

    Args:
        app: the command centre (:func:`vigil.command.app.create_app`).
        settings: its settings (``host``, ``port``, ``https``).
        options: more of uvicorn's options (``log_config``, ``ws``, ``lifespan`` …).

    Raises:
        CertificateUnusable: the certificate or key cannot be loaded.
    """
    https = settings.https
    if https.certificate_file is None or https.key_file is None:
        return uvicorn.Config(app, host=settings.host, port=settings.port, **options)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=https.certificate_file,
        ssl_keyfile=https.key_file,
        ssl_ciphers=TLS12_CIPHERS,
        **options,
    )
    try:
        config.load()
    except (OSError, ssl.SSLError) as exc:
        raise _unusable(https, exc) from exc
    if config.ssl is None:
        raise RuntimeError("uvicorn made no TLS context from a certificate and key")
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    return config


def _unusable(https: HttpsSettings, exc: Exception) -> CertificateUnusable:
    certificate = https.certificate_file or Path()
    key = https.key_file or Path()
    return CertificateUnusable(
        f"cannot serve HTTPS with certificate {certificate} and key {key} ({exc}): give a PEM certificate and "
        "the unencrypted PEM key it was issued for, readable by this user (`vigil pki` issues both)",
        certificate_file=certificate,
        key_file=key,
    )
