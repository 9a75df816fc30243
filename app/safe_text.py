"""Untrusted text (article text, model output, typed input) shown as text, never as markup.

Why: Streamlit renders strings as Markdown, where a feed's title could become a link, an image that
loads from anywhere, a LaTeX block or a coloured directive, and raw HTML would be one
`unsafe_allow_html` away. Escaping every Markdown metacharacter with a backslash (CommonMark's
rule: any ASCII punctuation may be escaped) keeps every character visible and inert.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:=\"'^])")


def plain(text: str) -> str:
    """``text`` as Markdown that displays exactly these characters, line breaks kept."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return escaped.replace("\r\n", "\n").replace("\n", "  \n")


def safe_link(url: str | None) -> str | None:
    """``url`` when it is an http(s) link a reader may follow, else None (javascript:, data:, ...)."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None
