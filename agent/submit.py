"""HTTPS to the collector (docs/collector.md): enrollment, report and apply record submission.

This module imports requests; only ``scan --submit``, ``enroll`` and ``run`` load it.

TLS is always verified: against the system's trust store, or ``--ca-file``. A pinned
certificate (``--pin-sha256``, the SHA-256 of the certificate's DER bytes) is checked on
every connection in addition. With a pin and no CA file, enrollment fetches the collector's
certificate, accepts it only if its fingerprint equals the pin, and keeps it in the state
directory as the CA file for every later connection (so a self-signed collector certificate
works without ever sending anything over an unverified connection). Plain ``http://`` is
accepted for loopback addresses only.

Tokens and enrollment secrets travel only in the Authorization header; they are never part
of a message, a log line or an exception text.
"""
from __future__ import annotations

import gzip
import hashlib
import ipaddress
import ssl
import urllib.parse
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from agent import ScanError, UsageError, __version__
from agent.reporting import ACCEPTED, DUPLICATE, REFUSED, REJECTED, RESYNC, UNAVAILABLE, Answer

TIMEOUT = (5.0, 30.0)  # connect, read
GZIP_ABOVE = 1024  # bytes; the collector accepts Content-Encoding: gzip
USER_AGENT = f"fedharden-agent/{__version__}"


class SubmitError(ScanError):
    """The collector cannot be reached now (network, its own trouble): try again later (exit 3)."""


class CollectorRefused(UsageError):
    """The collector cannot be used as configured (URL, TLS, pin), or refused what was sent
    (the enrollment secret, the agency): a human must fix it (exit 2)."""


class EnrollConflict(CollectorRefused):
    """The collector refused an enrollment with 409: ``reason`` is its code (``other_install``:
    another install already enrolled this host id; ``other_agency``), empty if it gave none."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


def normalize_pin(pin: str) -> str:
    value = pin.lower().replace(":", "").strip()
    if value.startswith("sha256/") or value.startswith("sha256:"):
        value = value[7:]
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise CollectorRefused("--pin-sha256: 64 hex digits (the SHA-256 of the collector certificate), colons allowed")
    return value


def check_url(url: str) -> str:
    """The collector's base URL, without a trailing slash; https, or http on loopback only."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise CollectorRefused(f"--collector: {url!r} is not an http(s) URL")
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise CollectorRefused("--collector: give the base URL only (no credentials, query or fragment)")
    if parsed.scheme == "http" and not _loopback(parsed.hostname):
        raise CollectorRefused("--collector: plain http is only allowed on loopback; use https")
    return url.rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PinnedAdapter(HTTPAdapter):
    """Verifies the chain (system trust or the CA file) and the certificate's fingerprint."""

    def __init__(self, pin: str, ca_file: str | None) -> None:
        self.pin, self.ca_file = pin, ca_file
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        context = ssl.create_default_context(cafile=self.ca_file)
        # The pinned certificate itself may be the trust anchor (a collector's own certificate).
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        kwargs["ssl_context"] = context
        kwargs["assert_fingerprint"] = self.pin
        super().init_poolmanager(*args, **kwargs)


def make_session(ca_file: str | None = None, pin_sha256: str | None = None) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    if pin_sha256:
        session.mount("https://", PinnedAdapter(normalize_pin(pin_sha256), ca_file))
    return session


def fetch_pinned_certificate(url: str, pin: str, timeout: float = TIMEOUT[0]) -> str:
    """The collector's certificate (PEM), accepted only if its SHA-256 equals ``pin``."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "https":
        raise CollectorRefused("--pin-sha256 needs an https collector URL")
    assert parsed.hostname is not None
    try:
        pem = ssl.get_server_certificate((parsed.hostname, parsed.port or 443), timeout=timeout)
    except (OSError, ssl.SSLError) as exc:
        raise SubmitError(f"cannot reach {url}: {exc}") from None
    got = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    if got != normalize_pin(pin):
        raise CollectorRefused(f"the collector's certificate does not match the pin (its SHA-256 is {got})")
    return pem


def _reason(exc: requests.RequestException) -> str:
    text = str(exc.__context__ or exc) if isinstance(exc, requests.ConnectionError) else str(exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _error_text(response: requests.Response) -> tuple[str, dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason, {}
    if not isinstance(body, dict):
        return str(body)[:200], {}
    return str(body.get("error") or body.get("status") or "")[:300], body


def wire_body(body: bytes) -> tuple[bytes, dict[str, str]]:
    """What goes on the wire for an encoded report: gzipped above GZIP_ABOVE bytes."""
    headers = {"Content-Type": "application/json"}
    if len(body) <= GZIP_ABOVE:
        return body, headers
    headers["Content-Encoding"] = "gzip"
    return gzip.compress(body, 6, mtime=0), headers


class HttpCollector:
    """The Transport agent.reporting.deliver uses: one POST per report, answers classified."""

    def __init__(self, url: str, token: str, session: requests.Session, ca_file: str | None = None,
                 timeout: tuple[float, float] = TIMEOUT) -> None:
        self.url = check_url(url)
        self._token = token
        self.session = session
        # Passed on every request: a session-level setting would lose to $REQUESTS_CA_BUNDLE.
        self.verify: str | bool = ca_file or True
        self.timeout = timeout

    def send(self, body: bytes) -> Answer:
        return self._post("/api/v1/reports", body)

    def send_apply(self, body: bytes) -> Answer:
        """One apply record (agent.apply_spool's transport)."""
        answer = self._post("/api/v1/applies", body)
        if answer.status_code in (404, 405):
            return Answer(REFUSED, "the collector does not take apply records (a version before them): upgrade "
                                   "it; they stay spooled", answer.status_code, answer.body)
        return answer

    def _post(self, path: str, body: bytes) -> Answer:
        data, headers = wire_body(body)
        headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self.session.post(f"{self.url}{path}", data=data, headers=headers,
                                         timeout=self.timeout, verify=self.verify, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            return Answer(REFUSED, f"TLS verification of {self.url} failed: {_reason(exc)}")
        except requests.RequestException as exc:
            return Answer(UNAVAILABLE, f"{self.url} unreachable: {_reason(exc)}")
        return classify(response)


def classify(response: requests.Response) -> Answer:
    code = response.status_code
    text, body = _error_text(response)
    if code in (200, 201) and body.get("status") in (ACCEPTED, DUPLICATE):
        return Answer(body["status"], text, code, body)
    if code == 409 and body.get("status") == "resync":
        return Answer(RESYNC, f"{body.get('reason', '')}: {text}", code, body)
    if code in (400, 409, 413, 422):
        return Answer(REJECTED, text, code, body)
    if code in (401, 403):
        return Answer(REFUSED, f"the collector refused this host's credential (HTTP {code}: {text})", code, body)
    if code == 429 or code >= 500:
        return Answer(UNAVAILABLE, f"collector answered HTTP {code}: {text}", code, body)
    return Answer(REFUSED, f"unexpected answer HTTP {code} from the collector: {text}", code, body)


def enroll(url: str, secret: str, body: dict[str, Any], session: requests.Session, ca_file: str | None,
           timeout: tuple[float, float] = TIMEOUT) -> dict[str, Any]:
    """POST /api/v1/enroll with the agency's enrollment secret; the answer holds the agent token."""
    try:
        response = session.post(f"{check_url(url)}/api/v1/enroll", json=body, timeout=timeout,
                                verify=ca_file or True, allow_redirects=False,
                                headers={"Authorization": f"Bearer {secret}"})
    except requests.exceptions.SSLError as exc:
        raise CollectorRefused(f"TLS verification of {url} failed: {_reason(exc)} (see --ca-file, --pin-sha256)") from None
    except requests.RequestException as exc:
        raise SubmitError(f"cannot reach {url}: {_reason(exc)}") from None
    text, answer = _error_text(response)
    if response.status_code in (401, 403):
        raise CollectorRefused(f"the collector refused the enrollment secret (HTTP {response.status_code}: {text})")
    if response.status_code == 409:
        raise EnrollConflict(f"the collector refused this enrollment: {text}", str(answer.get("reason") or ""))
    if response.status_code == 429 or response.status_code >= 500:
        raise SubmitError(f"enrollment failed: the collector answered HTTP {response.status_code}: {text}")
    if response.status_code not in (200, 201) or not isinstance(answer.get("token"), str):
        raise CollectorRefused(f"enrollment failed: HTTP {response.status_code}: {text}")
    return answer
