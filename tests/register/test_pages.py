"""What every page stands on: sign-in by the session cookie, CSRF in forms, CSP, htmx, catalogues."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from jinja2 import Environment
from markupsafe import Markup

from register.actor import Actor
from register.enums import Role
from register.i18n import LOCALE_DIR, Reader, negotiate, template_gettext
from register.services import create_user

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "register" / "static"


async def signed_in(
    app: Any, email: str = "ada@example.com", role: Role = Role.it
) -> httpx.AsyncClient:
    """A browser-like client signed in through the sign-in page, password already its own."""
    await create_user(
        actor=Actor.system("test"),
        email=email,
        role=role,
        password="a phrase of my own",
        must_change_password=False,
    )
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    resp = await c.post("/sign-in", data={"email": email, "password": "a phrase of my own"})
    assert resp.status_code == 303, resp.text
    return c


async def test_a_signed_out_reader_is_sent_to_sign_in_and_back(
    app: Any, client: httpx.AsyncClient
) -> None:
    """A page asks for sign-in with a redirect that brings the reader back; the API still says 401."""
    resp = await client.get("/?tab=mine")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/sign-in?next=/%3Ftab%3Dmine"
    api = await client.get("/api/v1/auth/me")
    assert api.status_code == 401 and api.headers["content-type"].startswith(
        "application/problem+json"
    )
    await create_user(
        actor=Actor.system("test"),
        email="ada@example.com",
        role=Role.it,
        password="a phrase of my own",
        must_change_password=False,
    )
    resp = await client.post(
        "/sign-in",
        data={"email": "ada@example.com", "password": "a phrase of my own", "next": "/?tab=mine"},
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/?tab=mine"
    assert "HttpOnly" in resp.headers.get_list("set-cookie")[0]


async def test_sign_in_goes_only_to_this_site(app: Any, client: httpx.AsyncClient) -> None:
    """`next` pointing at another host (or a scheme-relative //host) lands on the home page."""
    await create_user(
        actor=Actor.system("test"),
        email="ada@example.com",
        role=Role.it,
        password="a phrase of my own",
        must_change_password=False,
    )
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        resp = await client.post(
            "/sign-in",
            data={"email": "ada@example.com", "password": "a phrase of my own", "next": target},
        )
        assert resp.headers["location"] == "/", target


async def test_a_wrong_password_is_said_on_the_form_and_keeps_the_address(
    client: httpx.AsyncClient,
) -> None:
    """No account or a wrong password: the same words, next to the form, with the e-mail kept."""
    resp = await client.post("/sign-in", data={"email": "nobody@example.com", "password": "x"})
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("text/html")
    assert "do not match" in resp.text and 'value="nobody@example.com"' in resp.text


async def test_forms_need_the_sessions_csrf_token(app: Any) -> None:
    """A form post with the session cookie needs the session's token in its field (or htmx's header)."""
    c = await signed_in(app)
    try:
        refused = await c.post("/sign-out", data={"csrf_token": "forged"})
        assert refused.status_code == 403 and refused.headers["content-type"].startswith(
            "text/html"
        )
        missing = await c.post("/sign-out", data={})
        assert missing.status_code == 403
        token = c.cookies["register_csrf"]
        by_header = await c.get("/", headers={"x-csrf-token": token})
        assert by_header.status_code == 200
        assert f'value="{token}"' in by_header.text
        signed_out = await c.post("/sign-out", data={"csrf_token": token})
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/sign-in"
        assert (await c.get("/")).status_code == 303
    finally:
        await c.aclose()


async def test_a_one_time_password_leads_to_the_change_form_first(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Signed in with a one-time password, every page but the change form sends the reader there."""
    _, one_time = await create_user(
        actor=Actor.system("test"), email="new@example.com", role=Role.hr
    )
    resp = await client.post("/sign-in", data={"email": "new@example.com", "password": one_time})
    assert resp.headers["location"] == "/password?next=/"
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/password?next=/"
    form = await client.get("/password")
    assert form.status_code == 200 and "one-time password" in form.text
    token = client.cookies["register_csrf"]
    short = await client.post(
        "/password",
        data={
            "current_password": one_time,
            "new_password": "short",
            "repeat_password": "short",
            "csrf_token": token,
        },
    )
    assert short.status_code == 422
    assert 'aria-invalid="true"' in short.text and 'id="new_password-error"' in short.text
    done = await client.post(
        "/password",
        data={
            "current_password": one_time,
            "new_password": "a phrase of my own",
            "repeat_password": "a phrase of my own",
            "csrf_token": token,
            "next": "/",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert (await client.get("/")).status_code == 200


async def test_pages_carry_a_strict_csp_and_the_apis_keep_theirs(app: Any) -> None:
    """Scripts and styles from the register only, no inline script; the API keeps default-src 'none'."""
    c = await signed_in(app)
    try:
        page = await c.get("/")
        csp = page.headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp
            and "'unsafe-inline'" not in csp
            and "'unsafe-eval'" not in csp
        )
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        api = await c.get("/api/v1/auth/me")
        assert api.headers["content-security-policy"].startswith("default-src 'none'")
    finally:
        await c.aclose()


def test_no_template_holds_inline_script_or_style() -> None:
    """Every template keeps to the CSP: no <script> body, no on* handler, no style attribute."""
    offenders = []
    for template in ROOT.glob("**/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(
            r"\son[a-z]+\s*=|\sstyle\s*=|hx-on", text
        ):
            offenders.append(str(template.relative_to(ROOT)))
    assert not offenders, offenders


async def test_static_files_are_served_and_htmx_is_as_vendored(client: httpx.AsyncClient) -> None:
    """htmx and the stylesheet come from the register; htmx's bytes are the ones recorded."""
    vendored = json.loads((STATIC / "htmx" / "VENDORED.json").read_text())
    assert vendored["version"].startswith("2.0.")
    for name, entry in vendored["files"].items():
        assert hashlib.sha256((STATIC / "htmx" / name).read_bytes()).hexdigest() == entry["sha256"]
    js = await client.get("/static/htmx/htmx.min.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    css = await client.get("/static/site.css")
    assert css.status_code == 200 and ":focus-visible" in css.text


async def test_an_unknown_page_is_a_page_and_an_unknown_api_path_a_problem(
    client: httpx.AsyncClient,
) -> None:
    """A browser that asks for HTML gets a 404 page; the API gets its problem document."""
    page = await client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = await client.get("/api/v1/no-such-thing", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_the_dutch_catalogue_translates_every_message_of_the_code_and_templates() -> None:
    """Every string marked for translation in the code and templates is in nl, translated."""
    method_map = [
        ("**.py", "python"),
        ("**/templates/**.html", "jinja2"),
        ("playbooks/*.toml", "register.i18n:extract_toml"),
    ]
    options = {
        "**/templates/**.html": {"extensions": "jinja2.ext.i18n"},
        # The shipped playbooks' words, which pages say translated (Reader.shipped).
        "playbooks/*.toml": {"keys": "title, summary, guidance"},
    }
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    for top in ("register", "accounts", "incidents"):
        for _, _, message, _, _ in extract_from_dir(
            ROOT / top, method_map, options_map=options, keywords=keywords
        ):
            found.add(message if isinstance(message, str) else message[0])
    assert found, "nothing extracted: the check would pass on anything"
    catalogue = read_po((LOCALE_DIR / "nl" / "LC_MESSAGES" / "messages.po").open("rb"))
    untranslated = sorted(m for m in found if not (catalogue.get(m) and catalogue.get(m).string))
    assert not untranslated, f"not in the Dutch catalogue (run `make messages`): {untranslated}"


def test_the_readers_language_and_time_zone() -> None:
    """The user's choice first, then the browser's best match, then English; times in their zone."""
    assert negotiate(None, "nl-NL,nl;q=0.9,en;q=0.8") == "nl"
    assert negotiate(None, "fr-FR,en;q=0.5,nl;q=0.9") == "nl"
    assert negotiate("en", "nl") == "en"
    assert negotiate(None, "de, fr") == "en"
    assert negotiate(None, "nl;q=bad") == "en"
    import datetime as dt

    dutch = Reader(language="nl", time_zone="Europe/Amsterdam")
    moment = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.UTC)
    assert "16:00" in dutch.datetime(moment) and "dec" in dutch.datetime(moment)
    assert dutch.number(1234.5) == "1.234,5"
    assert Reader(language="en").number(1234.5) == "1,234.5"
    assert dutch.gettext("Sign in") == "Aanmelden"


# Attributes a person reads or hears; the others (class, id, href, name...) are for the machine.
READ_ATTRIBUTES = {"aria-label", "title", "placeholder", "alt", "aria-description"}
WORDS = re.compile(r"[^\W\d_]{2,}")
# Attributes a condition inside a tag adds (`{% if e %} aria-invalid="true"{% endif %}`) read as text.
ATTRIBUTE_RUN = re.compile(r'^\s*([\w:-]+="[^"]*"\s*)+/?>?\s*$')


class _TextFinder(HTMLParser):
    """Words a template writes itself, outside `_()` and `{% trans %}` (expressions are blanked)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_data(self, data: str) -> None:
        if WORDS.search(data) and not ATTRIBUTE_RUN.match(data):
            self.found.append(data.strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value and WORDS.search(value):
                self.found.append(f'{tag} {name}="{value}"')


def untranslated_text(source: str) -> list[str]:
    """What a template would show in English whatever the reader's language."""
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)  # used to lex only
    parts, inside = [], None
    for _, kind, value in env.lex(source):
        if kind in ("variable_begin", "block_begin"):
            inside = kind
            # An expression's output is text the code gives (translated there): a stand-in.
            parts.append("\x00" if kind == "variable_begin" else "")
        elif kind in ("variable_end", "block_end"):
            inside = None
        elif kind == "data" and inside is None:
            parts.append(value)
    finder = _TextFinder()
    finder.feed("".join(parts))
    return finder.found


def test_no_template_shows_words_outside_the_catalogue() -> None:
    """Every word a page shows goes through gettext: a template's own text is a failure."""
    templates = [
        t
        for top in ("register", "accounts", "incidents")
        for t in (ROOT / top).rglob("templates/**/*.html")
    ]
    assert len(templates) > 20, templates
    found = {
        str(t.relative_to(ROOT)): words
        for t in templates
        if (words := untranslated_text(t.read_text()))
    }
    assert not found, f"words outside _() and {{% trans %}}: {json.dumps(found, indent=1)}"
    # The check sees such words (a check that cannot fail is none).
    assert untranslated_text('<p>Saved</p><a title="Open it">{{ _("x") }}</a>') == [
        "Saved",
        'a title="Open it"',
    ]


async def test_an_htmx_request_without_a_session_sends_the_whole_page_to_sign_in(
    client: httpx.AsyncClient,
) -> None:
    """A fragment asked for after the session ended: HX-Redirect back to the page, not the fragment."""
    fragment = "/staff/picker?q=Ben&field=to_employee"
    plain = await client.get(fragment, headers={"accept": "text/html"})
    assert plain.status_code == 303
    assert (
        plain.headers["location"] == "/sign-in?next=/staff/picker%3Fq%3DBen%26field%3Dto_employee"
    )
    htmx = await client.get(
        fragment,
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://testserver/accounts/7/transfer?x=1",
        },
    )
    assert htmx.status_code == 401 and htmx.content == b""
    assert htmx.headers["hx-redirect"] == "/sign-in?next=/accounts/7/transfer%3Fx%3D1"
    # Another site named as the current page is not where sign-in sends anyone back to.
    hostile = await client.get(
        fragment, headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example//x"}
    )
    assert hostile.headers["hx-redirect"] == "/sign-in?next=/"


def test_sign_in_never_sends_anyone_to_another_site() -> None:
    """A backslash or a control character in `next` is read by browsers as another host."""
    from register.pages import safe_next

    assert safe_next("/accounts/3?x=1") == "/accounts/3?x=1"
    for hostile in (
        "/\\evil.example",
        "/\\/evil.example",
        "//evil.example",
        "https://evil.example/",
        "/\t/evil.example",
        "evil.example",
    ):
        assert safe_next(hostile) == "/", hostile


def test_a_time_zone_in_another_case_is_its_own_name() -> None:
    """ "utc" is UTC (it also ends Etc/UTC); "europe/amsterdam" and a city alone are read too."""
    from register.checks import check_time_zone

    assert check_time_zone("utc", "time_zone") == "UTC"
    assert check_time_zone("gmt", "time_zone") == "GMT"
    assert check_time_zone("europe/amsterdam", "time_zone") == "Europe/Amsterdam"
    assert check_time_zone("amsterdam", "time_zone") == "Europe/Amsterdam"


def test_times_read_as_babel_writes_them_in_every_language_and_zone() -> None:
    """The page's own quicker formatting of times says what Babel's format_datetime says."""
    import datetime as dt

    from babel.dates import format_datetime

    from register.i18n import LANGUAGES, zone

    moments = [
        dt.datetime(2026, 12, 3, 8, 5, 9, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 30, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2027, 3, 28, 1, 30),  # naive: read as UTC; a DST change in Europe
    ]
    for language in LANGUAGES:
        for name in ("UTC", "Europe/Amsterdam", "Asia/Tokyo", "America/New_York"):
            reader = Reader(language, name)
            for moment in moments:
                aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
                want = format_datetime(aware, "medium", tzinfo=zone(name), locale=language)
                assert reader.datetime(moment) == want == reader.datetime(moment)


def test_templates_translate_as_jinjas_own_gettext_does() -> None:
    """`_()` in a template: the reader's words, trusted; what fills them in, escaped."""
    dutch = template_gettext("nl")
    assert dutch("High") == "Hoog" and isinstance(dutch("High"), Markup)
    assert dutch("High") is dutch("High")
    filled = template_gettext("en")("Accounts held or backed by %(name)s.", name="<b>Ana & co</b>")
    assert filled == "Accounts held or backed by &lt;b&gt;Ana &amp; co&lt;/b&gt;."
    # A message's "%%" reads "%" with or without keywords, as with Jinja's new-style gettext.
    assert template_gettext("en")("100%% done") == "100% done"
    assert template_gettext("en")("%(n)s%% done", n=5) == "5% done"
    # Rendered through a template, the same.
    env = Environment(autoescape=True)
    rendered = env.from_string('{{ _("Accounts held or backed by %(name)s.", name=who) }}').render(
        _=template_gettext("en"), who="<i>"
    )
    assert rendered == "Accounts held or backed by &lt;i&gt;."
