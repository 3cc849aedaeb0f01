"""Hand-written definition files (.json): one definition, a list of them, or a build entry.

Editors may write a poll's definition by hand instead of a flowchart in an article; every
definition in the file is validated by the one schema, as the builder's own output is.
"""

from __future__ import annotations

import json
from typing import Any

from pollserver.core.builder.article import Article, ArticleError, BuildResult, NoFlowchartError
from pollserver.core.definition import DefinitionError, definition_warnings, validate_definition


def build_from_definition_file(article: Article) -> BuildResult:
    try:
        document = json.loads(article.body)
    except json.JSONDecodeError as error:
        raise ArticleError(
            f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise ArticleError("not valid JSON (nested too deeply)") from None
    definitions = _definitions_in(document)
    polls: list[dict[str, Any]] = []
    warnings: list[str] = []
    for number, definition in enumerate(definitions, start=1):
        several = len(definitions) > 1
        try:
            poll = validate_definition(definition)
        except DefinitionError as error:
            raise ArticleError(f"definition {number}: {error}" if several else str(error)) from None
        polls.append(poll)
        prefix = f"poll {number}: " if several else ""
        warnings.extend(prefix + warning for warning in definition_warnings(poll))
    return BuildResult(title=polls[0]["title"], polls=polls, warnings=warnings)


def _definitions_in(document: object) -> list[object]:
    """A definition, a list of them, or a ``pollserver build`` entry (its ``polls``)."""
    if isinstance(document, dict) and "polls" in document and "nodes" not in document:
        document = document["polls"]
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        if not document:
            raise NoFlowchartError("no poll definitions in the file")
        return document
    raise ArticleError("a definition file holds a JSON object (one poll) or a list of them")
