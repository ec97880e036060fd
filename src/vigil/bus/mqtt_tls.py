"""TLS for the MQTT connection: the client's context, and what a failed handshake means in words a person can act on.

Only the CA in the settings is trusted (the force's own, not the system's), the broker's certificate must name the
host connected to, and nothing older than TLS 1.2 is spoken. A failure is raised, never retried in silence: a
certificate that is wrong now stays wrong until someone changes a file.
"""

import ssl
from pathlib import Path

from vigil.bus.errors import BrokerCertificateRejected, BusTlsFailed, BusTlsFilesUnusable
from vigil.bus.mqtt_settings import MqttTlsSettings

# OpenSSL's verification results (X509_V_ERR_…) that have a remedy to suggest.
_EXPIRED = {9, 10}  # not yet valid, expired
_UNKNOWN_ISSUER = {2, 18, 19, 20, 21}  # no issuer certificate; self-signed; not from a trusted CA
_NAME_MISMATCH = {62, 64}  # host name, IP address


def client_context(tls: MqttTlsSettings) -> ssl.SSLContext:
    """A client TLS context that trusts ``tls.ca_file`` only, checks host names and speaks TLS 1.2 or later.

    Raises:
        BusTlsFilesUnusable: the CA file, the client certificate or its key cannot be read or used.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_verify_locations(cafile=str(tls.ca_file))
    except OSError as exc:  # ssl.SSLError too: a file that holds no certificate
        raise BusTlsFilesUnusable(
            f"cannot use {tls.ca_file} as the broker's CA ({_why(exc)}): expected the force's ca.crt (PEM), "
            "as `vigil pki init` writes it",
            path=tls.ca_file,
        ) from exc
    if tls.certificate_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(certfile=str(tls.certificate_file), keyfile=str(tls.key_file))
        except OSError as exc:
            raise BusTlsFilesUnusable(
                f"cannot use the client certificate {tls.certificate_file} with the key {tls.key_file} "
                f"({_why(exc)}): expected a PEM certificate and its own key, as `vigil pki client` writes them",
                path=_culprit(tls.certificate_file, tls.key_file),
            ) from exc
    return context


def handshake_failure(exc: ssl.SSLError, *, broker: str, host: str, tls: MqttTlsSettings) -> BusTlsFailed:
    """The error to raise for a failed TLS handshake (or a TLS alert on the first read), with what to do about it."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = str(exc.verify_message or exc.reason or exc)
        code = exc.verify_code
        if code in _NAME_MISMATCH:
            remedy = (
                f"the certificate does not name {host!r}: connect by a name it holds, or issue the broker a "
                f"certificate for it (`vigil pki server --host {host}`)"
            )
        elif code in _UNKNOWN_ISSUER:
            remedy = (
                f"it was not issued by the CA in {tls.ca_file}: give the CA that issued the broker's certificate, or "
                "give the broker a certificate from this CA"
            )
        elif code in _EXPIRED:
            remedy = "renew the broker's certificate (`vigil pki server … --replace`), or check this machine's clock"
        else:
            remedy = f"check the broker's certificate against {tls.ca_file}"
        return BrokerCertificateRejected(
            f"the MQTT broker at {broker} presented a certificate that is not trusted ({reason}); {remedy}",
            broker=broker,
            reason=reason,
        )
    reason = str(exc.reason or exc)
    match reason:
        case "WRONG_VERSION_NUMBER" | "RECORD_LAYER_FAILURE" | "PACKET_LENGTH_TOO_LONG":
            remedy = "the broker did not answer in TLS: is this its TLS listener (8883), not a plaintext one?"
        case "TLSV13_ALERT_CERTIFICATE_REQUIRED" | "SSLV3_ALERT_HANDSHAKE_FAILURE" if tls.certificate_file is None:
            remedy = "the broker requires a client certificate: give one and its key (`vigil pki client`)"
        case "TLSV1_ALERT_UNKNOWN_CA" | "SSLV3_ALERT_BAD_CERTIFICATE" | "SSLV3_ALERT_CERTIFICATE_UNKNOWN":
            remedy = (
                f"the broker does not trust this client's certificate ({tls.certificate_file}): it must be issued "
                "by the CA in the broker's cafile"
            )
        case "SSLV3_ALERT_CERTIFICATE_EXPIRED":
            remedy = f"this client's certificate ({tls.certificate_file}) has expired: issue a new one"
        case "TLSV1_ALERT_PROTOCOL_VERSION" | "UNSUPPORTED_PROTOCOL":
            remedy = "the broker offers no TLS version this client accepts (1.2 or later)"
        case _:
            remedy = "check the broker's TLS listener and this client's TLS settings"
    return BusTlsFailed(
        f"the TLS handshake with the MQTT broker at {broker} failed ({reason}): {remedy}", broker=broker, reason=reason
    )


def _why(exc: OSError) -> str:
    return str(exc.strerror or getattr(exc, "reason", None) or exc)


def _culprit(certificate_file: Path, key_file: Path) -> Path:
    return key_file if certificate_file.is_file() else certificate_file
