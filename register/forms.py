"""What every form page shares: the input kept, errors next to their fields, a stale version, a person.

A form page parses the body into a `FormState` with the helpers here (`text`, `flag`, `number`,
`numbers`, `resolve_person`), calls one service, and on a domain error re-renders the same form
with `form.fail(exc)`: each error goes next to the field it names, anything else above the form.
A `StaleVersion` is not an error page either: `form.mark_stale(current=..., version=...)` keeps
what the person typed, shows the saved values next to the fields that differ, and carries the new
version so that a second submit goes through. The templates' side is in `_forms.html`.

People are chosen by name (`person_picker` in `_forms.html`): the form sends the typed text and,
when the type-ahead chose someone, their id in a hidden `<name>_id` field. `resolve_person` turns
both into one employee id, the same way for every form; the staff directory's search is passed in,
since the core does not import the staff part (`register.staff.pages.person` binds it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from litestar import Request

from register.errors import Conflict, InvalidInput, RegisterError
from register.i18n import N_

# Characters no form field may carry (PostgreSQL refuses NUL; none of them is typed by a person).
_CONTROL = {chr(c) for c in range(32) if chr(c) not in "\t\n\r"} | {"\x7f"}

# No previewed file unpacks larger than a request may be (register.asgi.MAX_BODY_BYTES).
MAX_PREVIEW_BYTES = 64 * 1024 * 1024

Finder = Callable[[str], Awaitable[list[dict[str, Any]]]]
Getter = Callable[[int], Awaitable[dict[str, Any] | None]]


@dataclass
class FormState:
    """One form as the person sent it: their values, errors by field, a note when it went stale."""

    gettext: Callable[[str], str] = lambda message: message
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # picker name -> the people the typed text matched, to choose from (without JavaScript).
    choices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # A problem that names no field of this form (the account is retired, say).
    alert: str = ""
    stale: bool = False
    # field -> the saved value, where it differs from what the person typed (after a stale version).
    current: dict[str, str] = field(default_factory=dict)
    # param -> labels: a refusal's params that are the API's words ("status": "contained"),
    # said with the page's labels for them.
    words: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)

    @property
    def invalid(self) -> bool:
        """Whether the form must be shown again."""
        return bool(self.errors or self.alert or self.stale)

    @property
    def status(self) -> int:
        """The status of the form shown again: 409 for a conflict or a stale version, else 422."""
        return 409 if self.stale or (self.alert and not self.errors) else 422

    def value(self, name: str, default: Any = "") -> Any:
        """What the field holds now (what was typed, or the record's value on a fresh form)."""
        found = self.values.get(name)
        return default if found is None else found

    def error(self, name: str) -> dict[str, Any] | None:
        """The error of one field for the form macros ({field, message, choices}), or None."""
        if name not in self.errors:
            return None
        return {"field": name, "message": self.errors[name], "choices": self.choices.get(name, [])}

    def now(self, name: str) -> str | None:
        """The saved value of a field that changed since the form was opened, or None."""
        return self.current.get(name)

    def fail(
        self,
        exc: RegisterError,
        fields: Mapping[str, str] | None = None,
        people: Mapping[int, str] | None = None,
    ) -> None:
        """A service's refusal shown on the form: next to the field it names, else above the form.

        `fields` maps the service's field names to the form's (`custodian_id` -> `custodian`), and
        `people` names the employees a message refers to by id. Only a refusal of the input (422)
        or of the state (409) belongs on the form; anything else (not found, forbidden) is
        re-raised and becomes the error page.
        """
        if not isinstance(exc, InvalidInput | Conflict):
            raise exc
        fields = fields or {}
        # A message from the catalogue is said in the reader's language, then filled in.
        own = exc.said(self.gettext, self.words)
        named = exc.said_errors(self.gettext, self.words) or [
            {"field": exc.extra.get("field"), "message": own}
        ]
        for item in named:
            said = str(item.get("message") or exc.detail)
            said = own if said == exc.detail else self.gettext(said)
            message = _named(said, people or {})
            name = fields.get(item.get("field") or "", item.get("field") or "")
            if name and name in self.values:
                self.errors.setdefault(name, message)
            else:
                self.alert = self.alert or message

    def mark_stale(self, *, current: Mapping[str, Any], version: int) -> None:
        """Someone saved the record meanwhile: keep the input, show what is saved, take its version."""
        self.stale = True
        self.values["version"] = version
        self.current = {
            name: _plain(saved)
            for name, saved in current.items()
            if name != "version" and _plain(saved) != _plain(self.values.get(name))
        }


# "employee 12" in a message, in the languages the catalogue has.
_EMPLOYEE_ID = re.compile(r"\b(?:employee|medewerker) (\d+)\b")


def _named(message: str, people: Mapping[int, str]) -> str:
    """A service's message with the people it names by id named by name."""
    return _EMPLOYEE_ID.sub(lambda m: people.get(int(m.group(1)), m.group(0)), message)


def _plain(value: Any) -> str:
    return "" if value is None or value is False else str(value).strip()


def text(form: FormState, data: Mapping[str, Any], name: str, *, max_length: int = 1000) -> str:
    """A text field, trimmed; too long or holding control characters is an error next to it."""
    raw = data.get(name)
    value = (raw[-1] if isinstance(raw, list) and raw else raw) or ""
    value = str(value).strip()
    form.values[name] = value
    if len(value) > max_length:
        form.errors.setdefault(
            name,
            form.gettext(N_("This is too long: at most %(count)s characters."))
            % {"count": max_length},
        )
    elif any(c in _CONTROL for c in value):
        form.errors.setdefault(name, form.gettext(N_("This holds characters that cannot be kept.")))
    return value


def flag(form: FormState, data: Mapping[str, Any], name: str) -> bool:
    """A checkbox: ticked or not."""
    ticked = bool(data.get(name))
    form.values[name] = "on" if ticked else ""
    return ticked


def number(form: FormState, data: Mapping[str, Any], name: str) -> int | None:
    """A whole number from a hidden field (an id, a version), None when absent or not one."""
    raw = data.get(name)
    # A picker sends its hidden id and, when it offered a choice, the radio chosen after it.
    sent = [str(v).strip() for v in (raw if isinstance(raw, list) else [raw]) if v]
    value = sent[-1] if sent else ""
    parsed = int(value) if value.isdigit() and len(value) < 10 else None
    form.values[name] = parsed
    return parsed


def numbers(data: Mapping[str, Any], name: str) -> list[int]:
    """The ids a group of checkboxes of one name sent (none, one or several)."""
    raw = data.get(name)
    values = raw if isinstance(raw, list) else [] if raw is None else [raw]
    return sorted({int(v) for v in map(str, values) if v.isdigit() and len(v) < 10})


def _matches(person: Mapping[str, Any], typed: str) -> bool:
    """Whether every word typed is in the person's name or work e-mail."""
    haystack = f"{person['name']} {person['work_email']}".lower()
    return all(word in haystack for word in typed.lower().split())


async def resolve_person(
    form: FormState,
    data: Mapping[str, Any],
    name: str,
    *,
    find: Finder,
    get: Getter,
    refuse: Callable[[Mapping[str, Any]], str | None] = lambda person: None,
    required: bool = False,
) -> int | None:
    """The person a picker names: the one chosen, an exact e-mail, or the only match of the text.

    Several matches put them in `form.choices[name]` to choose from; none is an error next to the
    field, and so is a person `refuse` gives a reason against (someone who has left, where only
    people who work here may be named). An empty field is nobody (an error if `required`). The
    hidden id counts only while the text still names that person, so editing the text after
    choosing someone changes who it is.
    """
    typed = text(form, data, name, max_length=200)
    chosen = number(form, data, f"{name}_id")
    form.values[f"{name}_id"] = None
    if name in form.errors:
        return None
    if not typed:
        if required:
            form.errors[name] = form.gettext(N_("Choose a person: type part of their name."))
        return None
    if chosen is not None:
        person = await get(chosen)
        if person is not None and _matches(person, typed):
            return _take(form, name, person, refuse)
    found = await find(typed)
    usable = [p for p in found if refuse(p) is None]
    exact = [p for p in found if p["work_email"] == typed.lower()]
    same_name = [p for p in usable if p["name"].lower() == typed.lower()]
    if len(exact) == 1:
        return _take(form, name, exact[0], refuse)
    if len(usable) == 1:
        return _take(form, name, usable[0], refuse)
    if len(same_name) == 1:
        # "Ana Silva" typed in full is Ana Silva, not also Ana Silvana.
        return _take(form, name, same_name[0], refuse)
    if usable:
        form.choices[name] = usable
        form.errors[name] = form.gettext(
            N_("Several people match “%(text)s”: choose one below, or type more of the name.")
        ) % {"text": typed}
    elif found:
        form.errors[name] = refuse(found[0]) or ""
    else:
        form.errors[name] = form.gettext(
            N_(
                "Nobody in the staff directory matches “%(text)s”. "
                "Check the spelling, or type their work e-mail."
            )
        ) % {"text": typed}
    return None


def _take(
    form: FormState,
    name: str,
    person: Mapping[str, Any],
    refuse: Callable[[Mapping[str, Any]], str | None],
) -> int | None:
    reason = refuse(person)
    if reason is not None:
        form.errors[name] = reason
        return None
    form.values[name] = person["name"]
    form.values[f"{name}_id"] = person["id"]
    return int(person["id"])


@dataclass(frozen=True)
class SignedPreview:
    """A file shown as a preview, carried in the preview's form back to its apply.

    An import's preview reads the file; its apply must act on exactly that file and the choices
    the preview showed (a column mapping, a date order, the plan it would carry out), for the same
    person in the same session, within `max_age` seconds. The form carries the packed file and the
    choices with an HMAC under a key derived from the register's secret for this `purpose` alone.
    """

    purpose: str
    max_age: int = 3600

    def _key(self, request: Request[Any, Any, Any]) -> bytes:
        secret: bytes = request.app.state.secrets.secret_key
        info = f"register pages: {self.purpose} preview, v2".encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)

    def _signature(
        self, request: Request[Any, Any, Any], actor_id: Any, fields: Mapping[str, str]
    ) -> str:
        from register.pages import csrf_token_of

        # The session's CSRF token: another session of the same person cannot apply it either.
        parts = [str(actor_id), csrf_token_of(request)]
        for name in sorted(fields):
            value = fields[name]
            parts += [
                name,
                hashlib.sha256(value.encode()).hexdigest() if name == "content" else value,
            ]
        return hmac.new(self._key(request), "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()

    def fields(
        self, request: Request[Any, Any, Any], actor_id: Any, packed: str, **choices: str
    ) -> dict[str, str]:
        """The hidden fields of a preview's form: the packed file, the choices, the signature."""
        fields = {"content": packed, "issued": str(int(time.time())), **choices}
        return {**fields, "signature": self._signature(request, actor_id, fields)}

    def content(
        self, request: Request[Any, Any, Any], actor_id: Any, data: Mapping[str, Any], *choices: str
    ) -> bytes | None:
        """The file back from a preview's form; None unless it is exactly what was signed, in time."""
        fields = {k: str(data.get(k) or "") for k in ("content", "issued", *choices)}
        expected = self._signature(request, actor_id, fields)
        issued = int(fields["issued"]) if fields["issued"].isdigit() else 0
        if not hmac.compare_digest(str(data.get("signature") or "").encode(), expected.encode()):
            return None
        if not 0 <= time.time() - issued < self.max_age:
            return None
        # Signed, so it is what this server packed; unpacked no larger than an upload may be anyway.
        unpack = zlib.decompressobj()
        content = unpack.decompress(base64.b64decode(fields["content"]), MAX_PREVIEW_BYTES)
        return None if unpack.unconsumed_tail else content


def import_result(query: Mapping[str, Any]) -> dict[str, int] | None:
    """What an import did, from the query of the page its apply redirected to (None: it was not)."""
    if query.get("imported") != "1":
        return None
    return {
        k: int(query[k]) if str(query.get(k, "")).isdigit() else 0
        for k in ("rows", "created", "updated", "unchanged")
    }


def pack(content: bytes) -> str:
    """A file as a form's hidden field carries it (compressed, base64)."""
    return base64.b64encode(zlib.compress(content, 6)).decode()
