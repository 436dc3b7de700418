"""Designers' ``regex()`` patterns: the syntax that RE2 (server) and ``respond.js`` (browser) run alike.

A backtracking engine (Python's ``re``, JavaScript's ``RegExp``) can take minutes on a short
answer for a pattern such as ``^([A-Za-z]+ ?)*$``. Patterns therefore run on RE2 here and on a
Thompson automaton in ``core/static/respond.js``: both in time linear in the answer's length.
They agree on the patterns made of:

- literal characters; ``.`` (any character but a line break); ``^`` and ``$`` (start and end of
  the answer, which is matched whole);
- ``\\d \\w \\s`` and ``\\D \\W \\S``: ASCII digits; ASCII letters, digits and ``_``; space, tab,
  line feed, form feed and carriage return (RE2's meanings); ``\\t \\n \\r``; a backslash before
  punctuation for the character itself;
- classes ``[...]`` and ``[^...]`` of characters, ranges ``a-z`` and those escapes;
- groups ``(...)`` and ``(?:...)``; alternatives ``a|b``; repetition ``* + ? {n} {n,} {n,m}``
  (at most 1000), optionally followed by ``?`` (lazy, which changes nothing for a whole match).

:func:`problem` says why a pattern falls outside (back-references, look-arounds, flags, ``\\b``,
POSIX classes, ``\\p{...}``, a ``{`` that is not a repetition, ...); :func:`compile_pattern` also
reports what RE2 refuses (an unbalanced group, ``{1001}``, ...). Questionnaires are checked at
import, so a published form only holds patterns that both run.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

import re2
from flask_babel import gettext as _

log = logging.getLogger(__name__)


class PatternError(ValueError):
    """The pattern is outside the syntax both engines run, or RE2 refuses it."""


_REPEAT = re.compile(r"\{\d+(,\d*)?\}")


_CLASS_ESCAPES = "dDwWsS"


def _escape_problem(char: str) -> str | None:
    if char in _CLASS_ESCAPES or char in "tnr" or (char.isascii() and char.isprintable() and not char.isalnum()):
        return None
    return _("%(escape)s is not supported in a regex pattern: use \\d \\w \\s \\D \\W \\S \\t \\n \\r, or a backslash before a punctuation character",
             escape="\\" + char)


def _class_problem(pattern: str, start: int) -> tuple[int, str | None]:
    """Check the class that opens at ``start``; return where it ends and its problem, if any."""
    i = start + 1 + pattern.startswith("^", start + 1)
    if pattern.startswith("]", i):
        return i, _("a class [...] cannot start with ]: write \\] for the character itself")
    while i < len(pattern) and pattern[i] != "]":
        if pattern[i] == "[":
            return i, _("write \\[ for a [ inside [...]")
        if pattern[i] == "\\":
            escape = pattern[i + 1 : i + 2]
            found = _escape_problem(escape) if escape else _("the regex pattern ends with a lone \\")
            if found is None and escape in _CLASS_ESCAPES and pattern.startswith("-", i + 2) and not pattern.startswith("-]", i + 2):
                found = _("a range in [...] cannot start at %(escape)s", escape="\\" + escape)
            if found:
                return i, found
            i += 1
        i += 1
    return i + 1, None  # an unclosed class is reported by RE2


def problem(pattern: str) -> str | None:
    """Why ``pattern`` falls outside the syntax that both engines run alike, or None."""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i + 1 : i + 2]
            found = _escape_problem(escape) if escape else _("the regex pattern ends with a lone \\")
            if found:
                return found
            i += 2
        elif char == "[":
            i, found = _class_problem(pattern, i)
            if found:
                return found
        elif char == "(" and pattern.startswith("(?", i):
            if not pattern.startswith("(?:", i):
                return _("regex groups may only be (...) and (?:...)")
            i += 3
        elif char == "{":
            repeat = _REPEAT.match(pattern, i)
            if repeat is None:
                return _("{ must start a repetition such as {2} or {2,5}: write \\{ for the character itself")
            i = repeat.end()
        elif char in "]}":
            return _("write \\%(char)s for the character %(char)s", char=char)
        else:
            i += 1
    return None


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    return options


_OPTIONS = _options()


def compile_pattern(pattern: str) -> Any:
    """RE2's program for ``pattern``; :class:`PatternError` names the problem."""
    found = problem(pattern)
    if found:
        raise PatternError(found)
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise PatternError(_("the regex pattern is not valid: %(problem)s", problem=reason)) from exc


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    try:
        return compile_pattern(pattern)
    except PatternError:  # only in a form stored before patterns were checked so
        log.warning("regex() pattern %r is not one that RE2 and respond.js run alike: no answer matches it", pattern)
        return None


def fullmatch(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches the whole of ``text`` (never, for a pattern that cannot run: so in the browser)."""
    compiled = _compiled(pattern)
    return compiled is not None and compiled.fullmatch(text) is not None
