"""Handover certificates: a JSON document of every item and its evidence, signed with Ed25519.

The file is the canonical JSON of {"certificate": ..., "signature": ...} and a newline, so it has
exactly one byte form: verification re-serialises what it read and refuses any difference (an
edited space or escape), then checks the signature over the canonical certificate. No database
is needed to verify, only the register's public key.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from register.audit import canonical
from register.keys import public_key_id, public_key_pem

FORMAT = "social-asset-register/handover-certificate"
# 2: every time in RFC 3339 with `Z`, as the API writes it (1 wrote `2026-12-02 15:11:16+00:00`).
FORMAT_VERSION = 2
VERSIONS = (1, 2)
ALGORITHM = "Ed25519"


def sign_certificate(body: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The certificate file: the body (with the key named in it) and its signature."""
    public = key.public_key()
    certificate = {
        **body,
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "key_id": public_key_id(public),
        "public_key": public_key_pem(public),
    }
    # Round-trip through JSON so dates and numbers are exactly what a verifier will read back.
    certificate = json.loads(canonical(certificate))
    signature = key.sign(canonical(certificate).encode()).hex()
    document = {
        "certificate": certificate,
        "signature": {"algorithm": ALGORITHM, "key_id": certificate["key_id"], "value": signature},
    }
    return canonical(document).encode() + b"\n"


@dataclass(frozen=True)
class CertificateCheck:
    """The outcome of verifying a certificate file."""

    ok: bool
    reason: str
    certificate: dict[str, Any] | None = None


def verify_certificate(data: bytes, key: Ed25519PublicKey) -> CertificateCheck:
    """Check a certificate file offline; any edited byte fails."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return CertificateCheck(False, f"not a certificate: not UTF-8 JSON ({exc})")
    if not isinstance(document, dict) or set(document) != {"certificate", "signature"}:
        return CertificateCheck(False, "not a certificate: expected 'certificate' and 'signature'")
    if canonical(document).encode() + b"\n" != data:
        return CertificateCheck(
            False, "the file is not byte for byte as issued (its text was edited or reformatted)"
        )
    certificate, signature = document["certificate"], document["signature"]
    if not isinstance(certificate, dict) or certificate.get("format") != FORMAT:
        return CertificateCheck(False, "not a handover certificate")
    if certificate.get("format_version") not in VERSIONS:
        return CertificateCheck(
            False, f"certificate format version {certificate.get('format_version')!r} is unknown"
        )
    if not isinstance(signature, dict) or set(signature) != {"algorithm", "key_id", "value"}:
        return CertificateCheck(False, "the signature block is malformed")
    if signature["algorithm"] != ALGORITHM:
        return CertificateCheck(
            False, f"unsupported signature algorithm {signature['algorithm']!r}"
        )
    if signature["key_id"] != certificate.get("key_id"):
        return CertificateCheck(False, "the signature names a different key than the certificate")
    expected_id = public_key_id(key)
    if certificate.get("key_id") != expected_id:
        return CertificateCheck(
            False,
            f"signed by key {certificate.get('key_id')}, not by the key given ({expected_id})",
        )
    value = signature["value"]
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 64 or raw.hex() != value:
        return CertificateCheck(False, "the signature is not 64 bytes of lower-case hex")
    try:
        key.verify(raw, canonical(certificate).encode())
    except InvalidSignature:
        return CertificateCheck(False, "the signature does not match: the certificate was altered")
    return CertificateCheck(True, "signature valid", certificate)


def sha256_hex(data: bytes) -> str:
    """SHA-256 of a file, as hex."""
    return hashlib.sha256(data).hexdigest()


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return "<br>".join(
            f"<b>{html.escape(str(k))}</b>: {_cell(v)}" for k, v in sorted(value.items())
        )
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    return html.escape("" if value is None else str(value))


def certificate_html(data: bytes) -> str:
    """A printable page of a certificate file (every value escaped)."""
    document = json.loads(data.decode("utf-8"))
    cert = document["certificate"]
    handover = cert["handover"]
    rows = "\n".join(
        "<tr>"
        f"<td>{_cell(i['position'])}</td><td>{_cell(i['kind'])}</td><td>{_cell(i['title'])}</td>"
        f"<td>{_cell(i['owner_role'])}</td><td>{_cell(i['state'])}</td>"
        f"<td>{_cell(i['resolved_by_email'])}<br>{_cell(i['resolved_at'])}</td>"
        f"<td>{_cell(i['evidence'] or i.get('waive_reason'))}</td>"
        "</tr>"
        for i in cert["items"]
    )
    signs = "\n".join(
        f"<li>{_cell(s['team'].upper())}: {_cell(s['user_email'])} on {_cell(s['signed_at'])}"
        f"{(' - ' + _cell(s['note'])) if s.get('note') else ''}</li>"
        for s in cert["sign_offs"]
    )
    leaver, successor = handover["employee"], handover["successor"]
    kept = "\n".join(
        f"<li>{_cell(e['holding'])} on {_cell(e['platform'])} {_cell(e['handle'])}"
        f"{' (grant ' + _cell(e['grant_id']) + ')' if e.get('grant_id') else ''}: "
        f"{_cell(e['reason'])} - {_cell(e['recorded_by_email'])} on {_cell(e['recorded_at'])}</li>"
        for e in cert.get("exceptions", [])
    )
    found = "\n".join(
        f"<li>{_cell(name)}: {_cell(f.get('detail') or f)}</li>"
        for name, findings in sorted(cert.get("other", {}).items())
        for f in findings
    )
    approvers = "\n".join(
        f"<li>{_cell(c['platform'])} {_cell(c['handle'])}: "
        f"{_cell(', '.join(p['name'] for p in c['removed']))} &rarr; "
        f"{_cell(c['replacement']['name'] + ' (' + c['replacement']['email'] + ')') if c.get('replacement') else 'nobody new'}"
        f"; approvers now {_cell(', '.join(p['name'] for p in c['approvers']) or 'none')}"
        f" - {_cell(c['by'])} on {_cell(c['at'])}</li>"
        for c in cert.get("post_approvers", [])
    )
    # Older certificates state neither: say nothing rather than "none".
    extra = ""
    if approvers:
        extra += f"<h2>Post approvers handed over</h2><ul>{approvers}</ul>\n"
    if "exceptions" in cert:
        extra += "<h2>Kept by the leaver (exceptions named by an admin)</h2>"
        extra += f"<ul>{kept or '<li>none</li>'}</ul>\n"
    if "other" in cert:
        extra += f"<h2>Other findings at completion</h2><ul>{found or '<li>none</li>'}</ul>\n"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Handover certificate {_cell(handover["id"])}: {_cell(leaver["name"])}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#111}}
table{{border-collapse:collapse;width:100%;font-size:.9em}}
td,th{{border:1px solid #999;padding:.3em .5em;vertical-align:top;text-align:left}}
code{{word-break:break-all}}
@media print{{body{{margin:0}}}}
</style></head><body>
<h1>Offboarding handover certificate</h1>
<p><b>Leaver:</b> {_cell(leaver["name"])} ({_cell(leaver["work_email"])}), {_cell(leaver["department"])};
leaving date {_cell(handover["leaving_date"])}.</p>
<p><b>Successor:</b> {_cell(successor["name"])} ({_cell(successor["work_email"])}).</p>
<p><b>Started</b> {_cell(handover["started_at"])}; <b>completed</b> {_cell(handover["completed_at"])}.</p>
<h2>Checklist ({len(cert["items"])} items)</h2>
<table><thead><tr><th>#</th><th>Kind</th><th>Item</th><th>Team</th><th>State</th>
<th>By, when</th><th>Evidence or waiver reason</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<h2>Sign-offs</h2><ul>{signs}</ul>
{extra}<h2>Signature</h2>
<p>{_cell(document["signature"]["algorithm"])} signature by key <code>{_cell(cert["key_id"])}</code>;
certificate file SHA-256 <code>{sha256_hex(data)}</code>.</p>
<p>Check the JSON file offline: <code>register handover verify FILE</code>.</p>
</body></html>
"""
