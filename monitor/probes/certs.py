"""What TLS-speaking probes share about certificates: short reasons for verification
failures, and reading the leaf certificate (verified or not) from a TLS connection.

The peer certificate is read from its DER form because `getpeercert()` returns an empty
dict when verification is off, and we still want the expiry and names then.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # imported with the first certificate read: ~25 ms of a start otherwise
    from cryptography import x509

# OpenSSL X509_V_ERR_* codes that mean "nobody we trust vouches for this chain".
_UNTRUSTED_CODES = {
    2,  # unable to get issuer certificate
    18,  # depth zero self-signed certificate
    19,  # self-signed certificate in chain
    20,  # unable to get local issuer certificate
    21,  # unable to verify the first certificate
    27,  # certificate not trusted
}
_EXPIRED = 10
_NOT_YET_VALID = 9
_HOSTNAME_MISMATCH = 62
_IP_MISMATCH = 64

# Handshake failures that are not about the certificate, in words an operator knows.
_HANDSHAKE_REASONS = {
    "WRONG_VERSION_NUMBER": "server did not answer with TLS",
    "UNSUPPORTED_PROTOCOL": "no TLS version in common",
    "TLSV1_ALERT_PROTOCOL_VERSION": "no TLS version in common",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "handshake refused by server",
    "TLSV1_ALERT_INTERNAL_ERROR": "server reported an internal error",
    "TLSV1_UNRECOGNIZED_NAME": "server does not know this name (SNI)",
}


class PeerCertSource(Protocol):
    """What `ssl.SSLObject` and `ssl.SSLSocket` both offer."""

    def getpeercert(self, binary_form: bool = ...) -> Any: ...


def verify_error_reason(exc: ssl.SSLError, host: str) -> str:
    """A short reason for a failed TLS handshake: "tls: certificate has expired"."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code == _EXPIRED:
            return "tls: certificate has expired"
        if code == _NOT_YET_VALID:
            return "tls: certificate is not yet valid"
        if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
            return f"tls: certificate is not valid for {host}"
        if code in _UNTRUSTED_CODES:
            return "tls: untrusted certificate (self-signed or unknown CA)"
        return f"tls: certificate verification failed ({exc.verify_message})"
    why = exc.reason or ""
    if why in _HANDSHAKE_REASONS:
        return f"tls: {_HANDSHAKE_REASONS[why]}"
    text = why.lower().replace("_", " ") if why else str(exc)
    return f"tls: handshake failed ({text})"


def leaf_der(ssl_object: PeerCertSource | None) -> bytes | None:
    """The peer's leaf certificate in DER form, or None when there is none."""
    if ssl_object is None:
        return None
    try:
        der = ssl_object.getpeercert(binary_form=True)
    except (ValueError, ssl.SSLError):  # handshake not done, or connection gone
        return None
    return der or None


def cert_not_after(ssl_object: PeerCertSource | None) -> float | None:
    """Unix time of the leaf certificate's notAfter, whether it was verified or not."""
    info = describe_leaf(ssl_object)
    return info.not_after if info else None


@dataclass(frozen=True, slots=True)
class LeafInfo:
    """The facts about a leaf certificate that a probe reports."""

    not_after: float
    subject_cn: str | None
    issuer_cn: str | None
    issuer: str  # the whole name, for CAs whose certificates carry no CN
    sans: list[str] = field(default_factory=list)


def describe_leaf(ssl_object: PeerCertSource | None) -> LeafInfo | None:
    """Expiry, names and SANs of the peer's leaf certificate; None if unreadable."""
    der = leaf_der(ssl_object)
    if der is None:
        return None
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:  # a certificate our parser cannot read is still a certificate
        return None
    return LeafInfo(
        not_after=cert.not_valid_after_utc.timestamp(),
        subject_cn=_common_name(cert.subject),
        issuer_cn=_common_name(cert.issuer),
        issuer=cert.issuer.rfc4514_string(),
        sans=_sans(cert),
    )


def _common_name(name: x509.Name) -> str | None:
    from cryptography.x509.oid import NameOID

    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _sans(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    except ValueError:  # a malformed extension: report no names rather than fail
        return []
    names: list[str] = []
    for entry in ext.value:
        if isinstance(entry, x509.DNSName | x509.IPAddress):
            names.append(str(entry.value))
    return names
