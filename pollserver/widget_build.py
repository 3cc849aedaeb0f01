"""The widget's served files, built: minified, precompressed (gzip and brotli), content-hashed.

Used twice, and so it imports only the standard library, ``minify`` and ``brotli``: by setup.py
while a wheel is built (loaded by file path, in setuptools' isolated build environment where
pollserver itself cannot be imported), which writes the files into the wheel; and by the server
(as ``pollserver.widget_build``), which serves those prebuilt files when they match the sources
shipped beside them and otherwise (a checkout, an edited source) builds the same files in memory.

The minifier is tdewolff/minify, through its binary wheel ``minify-go``: a well-kept minifier for
JavaScript, CSS and JSON that runs offline with no Node toolchain, and on the widget it gives
smaller files than the pure-Python rjsmin (6.6 against 6.9 KB gzipped when it was chosen).

``minify`` is Go code: loading it starts Go's runtime, whose threads do not survive a fork. So it
is imported only where a build runs, and the server never runs one itself: it runs this module as
a program (``python widget_build.py SOURCES TARGET``, see ``main``) and reads what it wrote. A
gunicorn worker forked from a process that had loaded Go could otherwise hang in its first call.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import brotli

# Hex digits of a file's SHA-256 in its URL (widget.<hash>.js): enough to tell versions apart;
# the integrity value, not this, is what a browser checks.
HASH_LENGTH = 12
WORDS_HASH_LENGTH = 8  # see words_hash
GZIP_LEVEL = 9
BROTLI_QUALITY = 11

WIDGET = "widget.js"
WIDGET_CSS = "widget.css"
# The host page's script that sizes our iframes, and the frame page's script that reports size.
EMBED = "embed.js"
EMBED_FRAME = "embed-frame.js"
# What only some readers need (the proof-of-work solver, the desk preview's walk): a module
# widget.js imports when it is needed.
EXTRAS = "widget/extras.js"
EXTRAS_SOURCE = "extras.js"
WORDS_FOLDER = "words"
DEFAULT_LANGUAGE = "en"
# Where the words of a language are served, relative to the site root (and to widget.js).
WORDS_PATH = "widget/words"
SCRIPTS = (WIDGET, EMBED, EMBED_FRAME)
LANGUAGE_FILE = re.compile(r"^[a-z]{2,3}$")

# Placeholders the widget's source may hold, replaced before it is minified.
CSS_PLACEHOLDER = "__WIDGET_CSS__"  # a JS string literal: widget.css, minified
WORDS_EN_PLACEHOLDER = "__WORDS_EN__"  # the JSON object of words/en.json
# The languages with a words file, ["de", "fr", …], and the one hash all their URLs share
# (widget/words/<language>.<hash>.json): a map of URLs with a hash each cost the widget 200
# bytes gzipped once it spoke twelve languages, the list and one hash cost a quarter of that.
WORDS_LANGUAGES_PLACEHOLDER = "__WORDS_LANGUAGES__"
WORDS_HASH_PLACEHOLDER = "__WORDS_HASH__"  # written inside a string literal of the source
EXTRAS_URL_PLACEHOLDER = "__EXTRAS_URL__"  # "widget/extras.<hash>.js"

# A leading /*! … */ comment is the licence: kept verbatim at the top of the built file.
LICENCE = re.compile(r"\A\s*(/\*!.*?\*/)\s*", re.DOTALL)

DIST_FOLDER = "dist"
MANIFEST = "manifest.json"
MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".json": "application/json"}


class WidgetBuildError(Exception):
    """A source the build needs is missing or malformed: the message names it."""


@dataclass(frozen=True)
class BuiltFile:
    name: str  # its plain path from the site root: "widget.js", "widget/words/de.json"
    path: str  # its content-hashed path: "widget.3f2a1c9e0b7d.js"
    media_type: str
    body: bytes
    gzip: bytes
    brotli: bytes
    content_hash: str
    integrity: str  # Subresource Integrity of the body: "sha384-…"


@dataclass(frozen=True)
class WidgetBuild:
    files: tuple[BuiltFile, ...]
    sources_hash: str  # of the sources it was built from (see sources_hash())

    def file(self, name: str) -> BuiltFile | None:
        return next((built for built in self.files if built.name == name), None)

    @property
    def languages(self) -> frozenset[str]:
        """The languages the widget has words for (English is built into the script)."""
        prefix = WORDS_PATH + "/"
        return frozenset(
            {DEFAULT_LANGUAGE}
            | {
                built.name[len(prefix) : -len(".json")]
                for built in self.files
                if built.name.startswith(prefix)
            }
        )


def source_paths(folder: Path) -> list[Path]:
    """Every file the build reads, this module included: what a change of is a new build."""
    names = (*SCRIPTS, EXTRAS_SOURCE, WIDGET_CSS)
    paths = [folder / name for name in names if (folder / name).is_file()]
    paths += sorted((folder / WORDS_FOLDER).glob("*.json"))
    return [*paths, Path(__file__).resolve()]


def sources_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in source_paths(folder):
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def build_widget(folder: Path) -> WidgetBuild:
    """Build every served file from the widget's source folder, in memory."""
    words = {
        path.stem: compact_json(path)
        for path in sorted((folder / WORDS_FOLDER).glob("*.json"))
        if LANGUAGE_FILE.match(path.stem)
    }
    others = {language: text for language, text in words.items() if language != DEFAULT_LANGUAGE}
    digest = words_hash({language: text.encode() for language, text in others.items()})
    word_files = [
        built_file(f"{WORDS_PATH}/{language}.json", text.encode(), digest=digest)
        for language, text in others.items()
    ]
    extras = built_file(EXTRAS, minified_script(read_text(folder / EXTRAS_SOURCE), EXTRAS))
    widget = widget_source(folder, words.get(DEFAULT_LANGUAGE), list(others), digest, extras.path)
    scripts = [built_file(WIDGET, minified_script(widget, WIDGET)), extras]
    for name in (EMBED, EMBED_FRAME):
        scripts.append(built_file(name, minified_script(read_text(folder / name), name)))
    return WidgetBuild(files=(*scripts, *word_files), sources_hash=sources_hash(folder))


def words_hash(bodies: dict[str, bytes]) -> str:
    """The one hash in every words file's URL: of all of them, so any change is a new URL.
    Eight hex digits, where scripts have twelve: it only tells versions of the words apart (no
    two builds in a year would share it), and every byte of widget.js is sent to every reader."""
    digest = hashlib.sha256()
    for language in sorted(bodies):
        digest.update(f"{language}\0{len(bodies[language])}\0".encode())
        digest.update(bodies[language])
    return digest.hexdigest()[:WORDS_HASH_LENGTH]


def widget_source(
    folder: Path,
    words_en: str | None,
    languages: list[str],
    words_digest: str,
    extras_url: str,
) -> str:
    """widget.js with its placeholders filled in (a source without them is taken as it is)."""
    source = read_text(folder / WIDGET)
    if CSS_PLACEHOLDER in source:
        import minify  # only where a build runs (see the module's docstring)

        css = minify.string("text/css", read_text(folder / WIDGET_CSS))
        source = source.replace(CSS_PLACEHOLDER, json.dumps(css, ensure_ascii=False))
    if WORDS_EN_PLACEHOLDER in source:
        if words_en is None:
            raise WidgetBuildError(
                f"{folder / WIDGET} uses {WORDS_EN_PLACEHOLDER} but "
                f"{folder / WORDS_FOLDER / 'en.json'} is missing"
            )
        source = source.replace(WORDS_EN_PLACEHOLDER, words_en)
    source = source.replace(WORDS_LANGUAGES_PLACEHOLDER, json.dumps(sorted(languages)))
    source = source.replace(WORDS_HASH_PLACEHOLDER, words_digest)  # hex: bare, inside a string
    source = source.replace(EXTRAS_URL_PLACEHOLDER, json.dumps(extras_url))
    return source


def minified_script(source: str, name: str) -> bytes:
    licence = LICENCE.match(source)
    body = source[licence.end() :] if licence else source
    import minify  # only where a build runs (see the module's docstring)

    try:
        code = minify.string("application/javascript", body)
    except minify.MinifyError as error:
        raise WidgetBuildError(f"{name}: {error}") from error
    return ((licence.group(1) + "\n" if licence else "") + code + "\n").encode()


def compact_json(path: Path) -> str:
    try:
        value = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise WidgetBuildError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise WidgetBuildError(f"{path} must hold a JSON object of words")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise WidgetBuildError(f"cannot read {path}: {error.strerror}") from error


def built_file(name: str, body: bytes, *, digest: str | None = None) -> BuiltFile:
    """A served file; ``digest``: the hash in its URL when not its own (the words files')."""
    digest = digest or content_hash(body)
    return BuiltFile(
        name=name,
        path=hashed_path(name, digest),
        media_type=MEDIA_TYPES[Path(name).suffix],
        body=body,
        gzip=gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0),
        brotli=brotli.compress(body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY),
        content_hash=digest,
        integrity=integrity(body),
    )


def content_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:HASH_LENGTH]


def integrity(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def hashed_path(name: str, digest: str) -> str:
    """ "widget.js" → "widget.<digest>.js"."""
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}{dot}{suffix}"


# --- prebuilt files, as a wheel carries them ------------------------------------------------------


def write_build(build: WidgetBuild, target: Path) -> list[Path]:
    """Write each file with its .gz and .br forms, and a manifest, under ``target``."""
    written = []
    for built in build.files:
        for suffix, data in (("", built.body), (".gz", built.gzip), (".br", built.brotli)):
            path = target / (built.path + suffix)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(path)
    manifest = {
        "sources": build.sources_hash,
        "files": [[built.name, built.path] for built in build.files],
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return [*written, target / MANIFEST]


def read_build(folder: Path, target: Path | None = None) -> WidgetBuild | None:
    """The prebuilt files under ``target`` (by default ``folder/dist``) when they were built from
    the sources in ``folder`` as they are now; None when there are none, they are stale or a
    file is damaged."""
    target = target or folder / DIST_FOLDER
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
        if manifest["sources"] != sources_hash(folder):
            return None
        bodies = {name: (target / path).read_bytes() for name, path in manifest["files"]}
        words_prefix = WORDS_PATH + "/"
        digest = words_hash(
            {
                name[len(words_prefix) : -len(".json")]: body
                for name, body in bodies.items()
                if name.startswith(words_prefix)
            }
        )
        files = []
        for name, path in manifest["files"]:
            body = bodies[name]
            own = digest if name.startswith(words_prefix) else content_hash(body)
            if hashed_path(name, own) != path:
                return None
            files.append(
                BuiltFile(
                    name=name,
                    path=path,
                    media_type=MEDIA_TYPES[Path(name).suffix],
                    body=body,
                    gzip=(target / (path + ".gz")).read_bytes(),
                    brotli=(target / (path + ".br")).read_bytes(),
                    content_hash=own,
                    integrity=integrity(body),
                )
            )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return WidgetBuild(files=tuple(files), sources_hash=manifest["sources"])


def main(arguments: list[str]) -> int:
    """``python widget_build.py SOURCES TARGET``: build the widget's files from the source folder
    into TARGET (what ``read_build(SOURCES, TARGET)`` reads); a broken source is exit status 1
    with its message on stderr."""
    if len(arguments) != 2:
        print("usage: widget_build.py SOURCES TARGET", file=sys.stderr)
        return 2
    try:
        write_build(build_widget(Path(arguments[0])), Path(arguments[1]))
    except WidgetBuildError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
