"""Read news articles and build poll definitions from their yes/no flowchart blocks.

An article is plain text, HTML, or a JSON file holding hand-written definitions. In text and HTML
the flowchart appears as short lines (``flowchart`` shows one, and reads them).

Every problem with an article is an ArticleError with a one-line message, so a CLI or an API can
show it as it is. This package knows nothing of Flask: plain Python, BeautifulSoup and the schema.

- ``article``: the Article read into lines, the BuildResult, the errors, the line and text rules.
- ``reading``: files, directories and bytes to an Article (size limit, decoding, format).
- ``html_lines``: HTML to logical lines and a title (BeautifulSoup).
- ``flowchart``: the flowchart reading rule: kinds of line, blocks, a block's definition.
- ``definition_files``: hand-written definition files (.json).
- ``build``: ``build_polls_from_article``, ``flowchart_line_spans`` and ``build_entry``.
"""

from pollserver.core.builder.article import Article, ArticleError, BuildResult, NoFlowchartError
from pollserver.core.builder.build import (
    build_entry,
    build_polls_from_article,
    flowchart_line_spans,
)
from pollserver.core.builder.flowchart import is_chrome, is_question, reads_as_prose
from pollserver.core.builder.reading import (
    ARTICLE_SUFFIXES,
    DEFINITION_SUFFIX,
    FORMAT_BY_SUFFIX,
    FORMATS,
    MAX_ARTICLE_BYTES,
    expand_article_paths,
    format_of_name,
    parse_article,
    read_article,
)

__all__ = [
    "ARTICLE_SUFFIXES",
    "DEFINITION_SUFFIX",
    "FORMATS",
    "FORMAT_BY_SUFFIX",
    "MAX_ARTICLE_BYTES",
    "Article",
    "ArticleError",
    "BuildResult",
    "NoFlowchartError",
    "build_entry",
    "build_polls_from_article",
    "expand_article_paths",
    "flowchart_line_spans",
    "format_of_name",
    "is_chrome",
    "is_question",
    "parse_article",
    "read_article",
    "reads_as_prose",
]
