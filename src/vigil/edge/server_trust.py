"""Which command centre a device trusts over HTTPS: a server whose certificate chains to the force's own CA.

A device downloads its watchlist packages from the command centre with its token. Over HTTPS it checks the
server's certificate against the CA file the force gave it (``EdgeSettings.server_ca_file``; the system's trusted
CAs without one) and that the certificate names the host it asked for, so a machine on the path can neither read
the token nor pose as the server. TLS 1.2 is the oldest version spoken.
"""

import ssl
from pathlib import Path

from vigil.edge.errors import EdgeError


class ServerCaUnusable(EdgeError):
    """The CA file the server's certificate is checked against cannot be read.

    Attributes:
        path: the file.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


def server_tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client TLS context that accepts only a server certified by ``ca_file`` (None: the system's CAs).

    Host names are checked; TLS 1.2 or later.

    Raises:
        ServerCaUnusable: ``ca_file`` is missing, unreadable or holds no PEM certificate.
    """
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ServerCaUnusable(
            f"cannot read the force's CA certificate {ca_file} ({exc}); give the PEM file the command centre's "
            "certificate was issued under (`vigil pki init` writes it as ca.crt)",
            path=ca_file or Path(),
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
