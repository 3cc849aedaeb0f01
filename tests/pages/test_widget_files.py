"""The widget's files: built (minified, gzip, brotli, hashed) by pollserver.widget_build and
served by pollserver.pages.widget_files, from the real sources and from small folders made here."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import brotli
import pytest

from pollserver.pages import widget_files
from pollserver.widget_build import (
    WidgetBuildError,
    build_widget,
    read_build,
    sources_hash,
    write_build,
)

from helpers import REPO_ROOT

WIDGET_FOLDER = REPO_ROOT / "widget"
SCRIPTS = ("/widget.js", "/embed.js", "/embed-frame.js")
PUBLIC_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Timing-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
}
WORDS = {
    "en": {"yes": "Yes", "no": "No", "poll": "Reader poll"},
    "de": {"yes": "Ja", "no": "Nein", "poll": "Leserumfrage"},
    "fr": {"yes": "Oui", "no": "Non", "poll": "Sondage des lecteurs"},
}
PLACEHOLDER_WIDGET = """/*! a widget | MIT */
(() => {
  // Filled in by the build.
  const css = __WIDGET_CSS__;
  const english = __WORDS_EN__;
  const others = __WORDS_LANGUAGES__;
  const words = (language) => `widget/words/${language}.__WORDS_HASH__.json`;
  window.ReaderPollTest = { css, english, others, words };
})();
"""


def hashed_path(response_or_snippet: str, name: str) -> str:
    match = re.search(rf"/({re.escape(name)}\.[0-9a-f]{{12}}\.js)", response_or_snippet)
    assert match, response_or_snippet
    return "/" + match.group(1)


def current(name: str):
    built = widget_files.current_build().file(name)
    assert built is not None
    return built


@pytest.fixture
def widget_folder(tmp_path, monkeypatch):
    """A copy of the widget's sources with the placeholders and words files filled in, served."""
    folder = tmp_path / "widget"
    folder.mkdir()
    for name in ("embed.js", "embed-frame.js", "extras.js"):
        shutil.copy(WIDGET_FOLDER / name, folder / name)
    (folder / "widget.js").write_text(PLACEHOLDER_WIDGET)
    (folder / "widget.css").write_text(":host {\n  display : block;\n  color : #112233;\n}\n")
    (folder / "words").mkdir()
    for language, words in WORDS.items():
        (folder / "words" / f"{language}.json").write_text(json.dumps(words, indent=2))
    monkeypatch.setattr(widget_files, "WIDGET_FOLDER", folder)
    monkeypatch.setattr(widget_files, "SOURCES_CHECK_SECONDS", 0)
    return folder


def touch_later(path, text: str) -> None:
    """Write ``text`` and move the mtime on, as a later edit would."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


# --- encodings, headers, revalidation -----------------------------------------------------------


@pytest.mark.parametrize("path", SCRIPTS)
def test_each_script_is_served_in_the_best_encoding_the_client_takes(client, path):
    plain = client.get(path)
    assert plain.status_code == 200
    assert plain.mimetype == "text/javascript"
    assert "Content-Encoding" not in plain.headers
    cases = {
        "gzip, deflate, br": "br",
        "br;q=0.1, gzip;q=1": "gzip",  # the client's preference, as its q-values say
        "gzip, deflate": "gzip",
        "br;q=0, gzip": "gzip",
        "GZIP;q=0.5": "gzip",
        "br;q=0, gzip;q=0": None,
        "": None,
    }
    etags = set()
    for accept, encoding in cases.items():
        response = client.get(path, headers={"Accept-Encoding": accept})
        assert response.headers.get("Content-Encoding") == encoding, accept
        decode = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding]
        assert decode(response.data) == plain.data
        assert response.headers["Vary"] == "Accept-Encoding"
        for name, value in PUBLIC_HEADERS.items():
            assert response.headers[name] == value
        etags.add((encoding, response.headers["ETag"]))
    # One strong tag per representation, all three distinct.
    assert len({etag for _, etag in etags}) == 3 and len(etags) == 3


def test_served_widget_is_minified_and_keeps_its_licence(client):
    source = (WIDGET_FOLDER / "widget.js").read_text()
    served = client.get("/widget.js").get_data(as_text=True)
    licence = re.match(r"/\*!.*?\*/", source, re.DOTALL).group(0)
    assert served.startswith(licence + "\n")
    code = served[len(licence) :]
    assert len(served) < 0.9 * len(source)
    assert not re.search(r"\n\s", code), "indentation left in the minified widget"


def test_etag_is_the_content_hash_and_revalidates_with_304(client):
    first = client.get("/widget.js")
    etag = first.headers["ETag"]
    digest = hashlib.sha256(first.data).hexdigest()[:12]
    assert etag == f'"{digest}"'
    cache_control = first.headers["Cache-Control"]
    assert cache_control == "public, max-age=300, stale-while-revalidate=86400"

    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    # Each encoding is a representation of its own: its ETag gets a 304 for that encoding
    # only; a client holding another (it changed what it accepts, or a cache between clients
    # that differ) gets the one it asked for, whole.
    for encoding in ("br", "gzip"):
        packed = client.get("/widget.js", headers={"Accept-Encoding": encoding})
        assert packed.headers["ETag"] == f'"{digest}-{encoding}"'
        same = client.get(
            "/widget.js",
            headers={"Accept-Encoding": encoding, "If-None-Match": packed.headers["ETag"]},
        )
        assert same.status_code == 304 and same.headers["ETag"] == packed.headers["ETag"]
        plain = client.get("/widget.js", headers={"If-None-Match": packed.headers["ETag"]})
        assert plain.status_code == 200 and plain.data == first.data
        assert plain.headers["ETag"] == etag and "Content-Encoding" not in plain.headers
        other = "gzip" if encoding == "br" else "br"
        crossed = client.get(
            "/widget.js",
            headers={"Accept-Encoding": other, "If-None-Match": packed.headers["ETag"]},
        )
        assert crossed.status_code == 200 and crossed.headers["Content-Encoding"] == other
    identity_held = client.get(
        "/widget.js", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
    )
    assert identity_held.status_code == 200
    assert identity_held.headers["Content-Encoding"] == "gzip"

    stale = client.get("/widget.js", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.data == first.data


# --- content-hashed URLs and Subresource Integrity ----------------------------------------------


@pytest.mark.parametrize("path", SCRIPTS)
def test_hashed_url_serves_the_same_bytes_for_good(client, path):
    name = path.strip("/").removesuffix(".js")
    digest = current(name + ".js").content_hash
    hashed = f"/{name}.{digest}.js"
    for accept in ("br", "gzip", ""):
        plain = client.get(path, headers={"Accept-Encoding": accept})
        pinned = client.get(hashed, headers={"Accept-Encoding": accept})
        assert pinned.status_code == 200
        assert pinned.data == plain.data
        assert pinned.headers.get("Content-Encoding") == plain.headers.get("Content-Encoding")
        assert pinned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        for header, value in PUBLIC_HEADERS.items():
            assert pinned.headers[header] == value


@pytest.mark.parametrize("path", ["/widget.0123456789ab.js", "/embed.0.js", "/embed-frame.x.js"])
def test_a_hash_this_server_does_not_have_is_a_404_never_other_bytes(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == 404
    assert "no version" in error["message"]
    assert error["details"]["path"] == [path]
    name = path.split(".")[0].strip("/") + ".js"
    assert error["details"]["current"] == [f"/{current(name).path}"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_the_older_versioned_query_url_still_works(client):
    digest = current("widget.js").content_hash
    response = client.get(f"/widget.js?v={digest}")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    other = client.get("/widget.js?v=old")
    assert "immutable" not in other.headers["Cache-Control"]
    assert other.data == response.data


def test_integrity_is_that_of_the_decoded_bytes_served(client):
    widget = current("widget.js")
    for accept in ("br", "gzip", ""):
        response = client.get(f"/{widget.path}", headers={"Accept-Encoding": accept})
        decode = {"br": brotli.decompress, "gzip": gzip.decompress}.get(accept, bytes)
        digest = hashlib.sha384(decode(response.data)).digest()
        assert widget.integrity == "sha384-" + base64.b64encode(digest).decode()


def test_scripts_are_not_rate_limited(app_config):
    from pollserver import create_app

    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_PUBLIC="2/minute")
    client = create_app(app_config).test_client()
    for path in SCRIPTS:
        assert {client.get(path).status_code for _ in range(4)} == {200}


# --- the build: placeholders, words files, rebuilds ---------------------------------------------


def test_placeholders_take_the_css_the_english_words_and_the_words_languages_and_hash(
    widget_folder,
):
    build = build_widget(widget_folder)
    widget = build.file("widget.js").body.decode()
    assert widget.startswith("/*! a widget | MIT */\n")
    assert "__WIDGET_CSS__" not in widget and "__WORDS_" not in widget
    assert '":host{display:block;color:#123}"' in widget
    # The minifier may drop the quotes around keys: an object literal all the same.
    assert re.search(r'\{"?yes"?:"Yes","?no"?:"No","?poll"?:"Reader poll"\}', widget), widget
    urls = {language: build.file(f"widget/words/{language}.json").path for language in ("de", "fr")}
    assert re.fullmatch(r"widget/words/de\.[0-9a-f]{8}\.json", urls["de"])
    # One hash for every words file: the widget holds the list of languages and that hash.
    digest = urls["de"].split(".")[1]
    assert urls["fr"] == f"widget/words/fr.{digest}.json"
    assert '["de","fr"]' in widget, widget
    assert re.search(rf"widget/words/\$\{{\w+\}}\.{digest}\.json", widget), widget
    assert build.file("widget/words/en.json") is None  # English travels inside the script
    assert build.languages == {"en", "de", "fr"}
    assert (
        build.file("widget/words/fr.json").body
        == json.dumps(WORDS["fr"], ensure_ascii=False, separators=(",", ":")).encode()
    )


def test_words_files_are_served_at_their_hashed_path_only(client, widget_folder):
    path = current("widget/words/de.json").path
    assert f".{path.split('.')[1]}.json".encode() in client.get("/widget.js").data
    response = client.get("/" + path, headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Encoding"] == "br"
    assert json.loads(brotli.decompress(response.data)) == WORDS["de"]
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for header, value in PUBLIC_HEADERS.items():
        assert response.headers[header] == value
    assert client.get("/widget/words/de.json").status_code == 404
    assert client.get("/widget/words/xx.0123456789ab.json").get_json()["error"]["code"] == 404
    # A hash from before an update (a widget.js still cached) is sent on to today's words.
    stale = client.get("/widget/words/de.0123456789ab.json")
    assert stale.status_code == 307
    assert stale.headers["Location"] == "/" + path
    assert stale.headers["Access-Control-Allow-Origin"] == "*"
    assert stale.headers["Cache-Control"] == "public, max-age=300"


def test_an_edited_source_is_served_rebuilt_and_its_old_hash_is_gone(client, widget_folder):
    old_widget = current("widget.js")
    old_words = client.get("/" + current("widget/words/de.json").path)
    assert old_words.status_code == 200
    words = {**WORDS["de"], "yes": "Jawohl"}
    touch_later(widget_folder / "words" / "de.json", json.dumps(words))

    new_words = current("widget/words/de.json")
    assert json.loads(client.get("/" + new_words.path).data) == words
    moved_on = client.get(old_words.request.path, follow_redirects=True)
    assert json.loads(moved_on.data) == words
    # The widget names the new words files' hash, so it has a new hash too.
    new_widget = current("widget.js")
    assert new_widget.content_hash != old_widget.content_hash
    assert f".{new_words.content_hash}.json".encode() in client.get("/widget.js").data
    assert client.get(f"/{old_widget.path}").status_code == 404


def test_a_source_that_no_longer_builds_leaves_the_last_good_widget(client, widget_folder, caplog):
    good = client.get("/widget.js").data
    touch_later(widget_folder / "widget.js", "const broken = {\n")
    response = client.get("/widget.js")
    assert response.status_code == 200 and response.data == good
    assert "could not be rebuilt" in caplog.text and "widget.js" in caplog.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda folder: (folder / "words" / "en.json").unlink(), "en.json is missing"),
        (lambda folder: (folder / "words" / "de.json").write_text("{nope"), "de.json is not valid"),
        (lambda folder: (folder / "words" / "fr.json").write_text("[]"), "fr.json must hold"),
        (lambda folder: (folder / "widget.css").unlink(), "widget.css"),
        (lambda folder: (folder / "embed.js").write_text("if ("), "embed.js"),
    ],
)
def test_a_broken_source_is_a_build_error_naming_the_file(widget_folder, change, message):
    change(widget_folder)
    with pytest.raises(WidgetBuildError, match=re.escape(message)):
        build_widget(widget_folder)


def test_the_real_widget_builds_as_it_is(tmp_path):
    """Without placeholders or a words folder the widget is taken as it is."""
    build = build_widget(WIDGET_FOLDER)
    assert {file.name for file in build.files} >= {"widget.js", "embed.js", "embed-frame.js"}
    for file in build.files:
        assert gzip.decompress(file.gzip) == file.body
        assert brotli.decompress(file.brotli) == file.body
        assert file.path == file.name.replace(".", f".{file.content_hash}.", 1)


# --- prebuilt files (what a wheel carries) -------------------------------------------------------


def test_prebuilt_files_are_served_while_they_match_the_sources(client, widget_folder, tmp_path):
    """Files written for a wheel are used as they are while their manifest names the sources
    beside them; once a source changes, the server builds its own."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(widget_folder, elsewhere)
    (elsewhere / "widget.js").write_text("/*! prebuilt */\nwindow.prebuilt = 1;\n")
    prebuilt = dataclasses.replace(
        build_widget(elsewhere), sources_hash=sources_hash(widget_folder)
    )
    written = write_build(prebuilt, widget_folder / "dist")
    assert {path.name for path in written} >= {"manifest.json", prebuilt.file("widget.js").path}
    assert read_build(widget_folder) == prebuilt

    assert client.get("/widget.js").data == b"/*! prebuilt */\nwindow.prebuilt=1\n"
    touch_later(widget_folder / "widget.css", "p{color:red}")
    assert read_build(widget_folder) is None
    assert client.get("/widget.js").data.startswith(b"/*! a widget | MIT */\n")


def test_damaged_prebuilt_files_are_not_used(widget_folder):
    built = build_widget(widget_folder)
    write_build(built, widget_folder / "dist")
    assert read_build(widget_folder) == built
    (widget_folder / "dist" / built.file("embed.js").path).write_bytes(b"tampered")
    assert read_build(widget_folder) is None
    (widget_folder / "dist" / "manifest.json").write_text("{")
    assert read_build(widget_folder) is None


SERVES_WITHOUT_GO = """
import sys, tempfile
from pollserver import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "RATELIMIT_ENABLED": False})
response = app.test_client().get("/widget.js", headers={"Accept-Encoding": "identity"})
assert response.status_code == 200 and b"reader-poll" in response.data, response.status
print("minify" in sys.modules)
"""


def test_a_server_process_never_loads_the_minifier(tmp_path):
    """The minifier is Go code, whose runtime does not survive a fork: a server worker must
    never have it loaded. The widget is built by a program of its own and read back here."""
    finished = subprocess.run(
        [sys.executable, "-c", SERVES_WITHOUT_GO],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "POLLSERVER_INSTANCE_PATH": str(tmp_path)},
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "False"
