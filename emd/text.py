"""Outside text (PR titles, sprint names, team names, model output) placed into a rendered format.

Every piece of text that did not come from this code is escaped for the format it is placed in, so a
title can never become a Slack mention, a link, or markup a reader did not ask for.
"""

from __future__ import annotations

import re

_SLACK = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def slack_escape(text: object) -> str:
    """Slack `mrkdwn` and top-level `text`: the three characters Slack's docs say to escape."""
    return str(text).translate(_SLACK)


def markdown_escape(text: object) -> str:
    """Markdown (Streamlit, Dagster metadata): backslash-escape every character markdown gives a meaning."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(text: object) -> str:
    """Slides, tables and Notion rich text: set as plain text (never parsed as markup); control
    characters, which XML cannot hold and a deck would refuse, are dropped."""
    return _CONTROL.sub("", str(text))
