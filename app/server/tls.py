"""HTTPS for the local endpoint: a test certificate authority made on the spot (trustme).

Why: Microsoft's Graph clients treat a plain-http base URL as foreign. Measured with the
JavaScript Graph client against the http endpoint, it drops the ``Authorization`` header for
any non-https host and reads an absolute ``http://`` Location as a relative path (404); the
Python SDK's bearer-token provider refuses a non-https URL outright. Over HTTPS with a CA the
client trusts, a bot's auth and Location handling run unchanged.

The CA and the server certificate are made by ``trustme`` (made for exactly this, instead of
hand-rolled crypto), new for each endpoint; only the CA *certificate* is written to disk, for
the client to trust. Its private key stays in memory and dies with the process.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

# The names a bot may use for the loopback endpoint (the Host guard accepts the same ones).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
CA_FILE_NAME = "callsim-test-ca.pem"


@dataclass(frozen=True)
class TestCertificates:
    """The server's TLS context and the CA certificate file a client must trust."""

    ca_file: Path
    server_context: ssl.SSLContext


def make_test_certificates(folder: Path, host: str = "127.0.0.1") -> TestCertificates:
    """A fresh test CA and a certificate for ``host`` and the loopback names; CA PEM in folder."""
    import trustme

    ca = trustme.CA(organization_name="CallSim local test CA")
    names = list(dict.fromkeys([host, *LOOPBACK_NAMES]))
    cert = ca.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    folder.mkdir(parents=True, exist_ok=True)
    ca_file = folder / CA_FILE_NAME
    ca.cert_pem.write_to_path(str(ca_file))
    return TestCertificates(ca_file, context)


def trust_hints(ca_file: Path) -> list[str]:
    """How to make a bot's runtime trust the CA: one line per platform."""
    return [
        f"CA certificate: {ca_file}",
        f"  Node.js:  NODE_EXTRA_CA_CERTS={ca_file}",
        f"  Python:   SSL_CERT_FILE={ca_file} (httpx, urllib), REQUESTS_CA_BUNDLE={ca_file} "
        "(requests)",
        f"  .NET:     HttpClientHandler.ServerCertificateCustomValidationCallback checking the "
        f"chain against {ca_file} (X509ChainTrustMode.CustomRootTrust), or on Linux copy it to "
        "/usr/local/share/ca-certificates/callsim.crt and run update-ca-certificates",
    ]
