"""A small XLSForm-style expression language, parsed by hand and evaluated from a whitelist.

Grammar (lowest precedence first)::

    or      := and ("or" and)*
    and     := compare ("and" compare)*
    compare := sum (("=" | "!=" | "<" | "<=" | ">" | ">=") sum)?
    sum     := product (("+" | "-") product)*
    product := unary (("*" | "div" | "/" | "mod") unary)*
    unary   := "-" unary | primary
    primary := NUMBER | STRING | "${name}" | "." | column | name "(" args ")" | "(" or ")"

An expression compiles to a JSON-ready AST (nested lists) that the browser evaluates with the
same rules (``static/respond.js``). Nothing is ever handed to ``eval``: the evaluator walks the
AST and only knows the operators and the functions in :data:`FUNCTIONS`.

Values are ``None`` (not answered / missing), booleans, numbers, strings (dates are ISO
``YYYY-MM-DD`` strings) and lists of choice names (multiple choice).

``regex(value, 'pattern')`` matches the whole answer. A designer's pattern never runs on a
backtracking engine (``^([A-Za-z]+ ?)*$`` would take minutes on 31 characters): the server runs it
on RE2 and the browser on an automaton of its own (``respond.js``), both in time linear in the
answer's length, to the same answers (:mod:`survey_app.questionnaires.engine.patterns`). A pattern
outside the syntax they both run is refused when the questionnaire is imported, naming its row.

>>> ast = compile_expression("${age} >= 18 and selected(${langs}, 'en')", names={"age", "langs"})
>>> evaluate(ast, {"age": 20, "langs": ["en", "zh"]})
True
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _

from survey_app.questionnaires.engine import patterns

MAX_LENGTH = 2000


MAX_DEPTH = 40


MAX_REGEX_LENGTH = 200


Ast = list[Any]


class ExpressionError(ValueError):
    """The expression is malformed or uses something outside the whitelist."""


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?|\.\d+)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<ref>\$\{[^}]*\})
  | (?P<op><=|>=|!=|=|<|>|\+|-|\*|/|\(|\)|,)
  | (?P<dot>\.)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
  )""",
    re.VERBOSE,
)


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


_COMPARE = ("=", "!=", "<", "<=", ">", ">=")


_WORD_OPS = {"and", "or", "div", "mod"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LENGTH:
        raise ExpressionError(_("expression is longer than %(limit)d characters", limit=MAX_LENGTH))
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None or match.end() == pos:
            bad = source[pos:].lstrip()[:1]
            raise ExpressionError(_("unexpected character %(char)s at position %(pos)d", char=repr(bad), pos=pos + 1))
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "name" and text in _WORD_OPS:
            kind = "op"
        tokens.append(Token(kind, text, match.start(kind) + 1))
        pos = match.end()
    return tokens


def _regex(value: Any, pattern: Any) -> bool:
    text = to_string(value)
    return text != "" and patterns.fullmatch(to_string(pattern), text)


def _round(value: Any, digits: Any = 0) -> float | None:
    number, places = to_number(value), to_number(digits)
    if number is None or places is None:
        return None
    factor = 10 ** int(places)
    return math.copysign(math.floor(abs(number) * factor + 0.5) / factor, number)


def _int(value: Any) -> float | None:
    number = to_number(value)
    return None if number is None else float(math.trunc(number))


def _extreme(pick: Callable[..., float]) -> Callable[..., float | None]:
    def run(*values: Any) -> float | None:
        numbers = [to_number(v) for v in values]
        if any(n is None for n in numbers):
            return None
        return pick(numbers)

    return run


FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
    "selected": (2, 2, lambda value, choice: to_string(choice) in as_list(value)),
    "count-selected": (1, 1, lambda value: float(len(as_list(value)))),
    "if": (3, 3, lambda cond, yes, no: yes if truthy(cond) else no),
    "string-length": (1, 1, lambda value: float(len(to_string(value)))),
    "regex": (2, 2, _regex),
    "today": (0, 0, lambda: date.today().isoformat()),
    "not": (1, 1, lambda value: not truthy(value)),
    "true": (0, 0, lambda: True),
    "false": (0, 0, lambda: False),
    "concat": (1, None, lambda *values: "".join(to_string(v) for v in values)),
    "int": (1, 1, _int),
    "number": (1, 1, lambda value: to_number(value)),
    "round": (1, 2, _round),
    "string": (1, 1, lambda value: to_string(value)),
    "coalesce": (2, 2, lambda a, b: a if to_string(a) != "" else b),
    "contains": (2, 2, lambda a, b: to_string(b) in to_string(a)),
    "starts-with": (2, 2, lambda a, b: to_string(a).startswith(to_string(b))),
    "min": (1, None, _extreme(min)),
    "max": (1, None, _extreme(max)),
}


def to_number(value: Any) -> float | None:
    if value is None or isinstance(value, list):
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        return None
    return float(text)


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(float(value))
    if isinstance(value, list):
        return " ".join(to_string(v) for v in value)
    return str(value)


def as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [to_string(v) for v in value]
    return [part for part in to_string(value).split(" ") if part]


def truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, list):
        return len(value) > 0
    return str(value) != ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return truthy(a) == truthy(b)
    if _is_number(a) or _is_number(b):
        na, nb = to_number(a), to_number(b)
        if na is not None and nb is not None:
            return na == nb
    return to_string(a) == to_string(b)


def _order(op: str, a: Any, b: Any) -> bool:
    na, nb = to_number(a), to_number(b)
    if na is not None and nb is not None:
        left, right = na, nb
    elif a is None or b is None or to_string(a) == "" or to_string(b) == "":
        return False
    else:
        left, right = to_string(a), to_string(b)  # ISO dates compare as strings
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _arithmetic(op: str, a: Any, b: Any) -> float | None:
    na, nb = to_number(a), to_number(b)
    if na is None or nb is None:
        return None
    if op == "+":
        return na + nb
    if op == "-":
        return na - nb
    if op == "*":
        return na * nb
    if nb == 0:
        return None
    if op == "mod":
        return math.fmod(na, nb)
    return na / nb


class _Parser:
    def __init__(self, source: str, names: Collection[str], allow_current: bool, columns: Collection[str] | None) -> None:
        self.tokens = tokenize(source)
        self.index = 0
        self.names = names
        self.allow_current = allow_current
        self.columns = columns
        self.refs: list[str] = []
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ExpressionError(_("the expression ends too early"))
        self.index += 1
        return token

    def accept(self, *ops: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "op" and token.text in ops:
            self.index += 1
            return token.text
        return None

    def expect(self, op: str) -> None:
        token = self.peek()
        if self.accept(op) is None:
            found = _("%(text)s at position %(pos)d", text=repr(token.text), pos=token.pos) if token else _("the end")
            raise ExpressionError(_("expected %(op)s but found %(found)s", op=repr(op), found=found))

    def parse(self) -> Ast:
        if not self.tokens:
            raise ExpressionError(_("the expression is empty"))
        tree = self.parse_or()
        token = self.peek()
        if token is not None:
            raise ExpressionError(_("unexpected %(text)s at position %(pos)d", text=repr(token.text), pos=token.pos))
        return tree

    def _binary(self, ops: tuple[str, ...], operand: Callable[[], Ast], once: bool = False) -> Ast:
        left = operand()
        while (op := self.accept(*ops)) is not None:
            left = ["bin", op, left, operand()]
            if once:
                break
        return left

    def parse_or(self) -> Ast:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(_("the expression is nested more than %(limit)d levels deep", limit=MAX_DEPTH))
        try:
            return self._binary(("or",), self.parse_and)
        finally:
            self.depth -= 1

    def parse_and(self) -> Ast:
        return self._binary(("and",), self.parse_compare)

    def parse_compare(self) -> Ast:
        return self._binary(_COMPARE, self.parse_sum, once=True)

    def parse_sum(self) -> Ast:
        return self._binary(("+", "-"), self.parse_product)

    def parse_product(self) -> Ast:
        tree = self._binary(("*", "div", "/", "mod"), self.parse_unary)
        return _normalise_division(tree)

    def parse_unary(self) -> Ast:
        if self.accept("-") is not None:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExpressionError(_("the expression is nested more than %(limit)d levels deep", limit=MAX_DEPTH))
            try:
                return ["neg", self.parse_unary()]
            finally:
                self.depth -= 1
        return self.parse_primary()

    def parse_primary(self) -> Ast:
        token = self.take()
        if token.kind == "num":
            return ["num", float(token.text)]
        if token.kind == "str":
            return ["str", token.text[1:-1]]
        if token.kind == "ref":
            name = token.text[2:-1].strip()
            if not _NAME.match(name):
                raise ExpressionError(_("%(text)s is not a valid question reference", text=token.text))
            if name not in self.names:
                raise ExpressionError(_("${%(name)s} does not name an earlier question", name=name))
            self.refs.append(name)
            return ["ref", name]
        if token.kind == "dot":
            if not self.allow_current:
                raise ExpressionError(_("'.' (the current answer) is only allowed in a constraint"))
            return ["cur"]
        if token.kind == "op" and token.text == "(":
            inner = self.parse_or()
            self.expect(")")
            return inner
        if token.kind == "name":
            if self.accept("(") is not None:
                return self.parse_call(token)
            if self.columns is not None:
                if token.text not in self.columns:
                    raise ExpressionError(_("%(text)s is not a column of the choice list", text=repr(token.text)))
                return ["col", token.text]
            raise ExpressionError(
                _("%(text)s at position %(pos)d is not allowed: refer to questions as ${name}", text=repr(token.text), pos=token.pos)
            )
        raise ExpressionError(_("unexpected %(text)s at position %(pos)d", text=repr(token.text), pos=token.pos))

    def parse_call(self, token: Token) -> Ast:
        name = token.text
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExpressionError(_("unknown function %(name)s() at position %(pos)d; allowed: %(known)s", name=name, pos=token.pos, known=known))
        args: list[Ast] = []
        if self.accept(")") is None:
            args.append(self.parse_or())
            while self.accept(",") is not None:
                args.append(self.parse_or())
            self.expect(")")
        low, high = FUNCTIONS[name][0], FUNCTIONS[name][1]
        if len(args) < low or (high is not None and len(args) > high):
            if low == high:
                wanted = str(low)
            elif high is not None:
                wanted = _("%(low)d to %(high)d", low=low, high=high)
            else:
                wanted = _("at least %(low)d", low=low)
            raise ExpressionError(_("%(name)s() takes %(wanted)s argument(s), got %(got)d", name=name, wanted=wanted, got=len(args)))
        if name == "regex":
            _check_regex(args[1])
        return ["call", name, args]


def _normalise_division(tree: Ast) -> Ast:
    if tree[0] == "bin" and tree[1] == "/":
        return ["bin", "div", tree[2], tree[3]]
    return tree


def _check_regex(arg: Ast) -> None:
    if arg[0] != "str":
        raise ExpressionError(_("regex() needs its pattern as a quoted text"))
    pattern = arg[1]
    if len(pattern) > MAX_REGEX_LENGTH:
        raise ExpressionError(_("the regex pattern is longer than %(limit)d characters", limit=MAX_REGEX_LENGTH))
    try:
        patterns.compile_pattern(pattern)
    except patterns.PatternError as exc:
        raise ExpressionError(str(exc)) from exc


def compile_expression(
    source: str,
    *,
    names: Collection[str],
    allow_current: bool = False,
    columns: Collection[str] | None = None,
) -> Ast:
    """Parse ``source`` into an AST, accepting only known questions, functions and operators.

    ``names`` are the questions it may refer to as ``${name}``; ``allow_current`` allows ``.``
    (constraints); ``columns`` allows bare names of choice-list columns (choice filters).
    """
    return _Parser(source, names, allow_current, columns).parse()


def references(ast: Ast) -> set[str]:
    """The question names an AST refers to."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list) and node:
            if node[0] == "ref":
                found.add(node[1])
                return
            for child in node[1:]:
                walk(child)

    walk(ast)
    return found


def evaluate(ast: Ast, values: Mapping[str, Any], current: Any = None, columns: Mapping[str, Any] | None = None) -> Any:
    """Evaluate a compiled AST with the answers in ``values``."""
    kind = ast[0]
    if kind in ("num", "str"):
        return ast[1]
    if kind == "ref":
        return values.get(ast[1])
    if kind == "cur":
        return current
    if kind == "col":
        return (columns or {}).get(ast[1])
    if kind == "neg":
        number = to_number(evaluate(ast[1], values, current, columns))
        return None if number is None else -number
    if kind == "bin":
        op = ast[1]
        left = evaluate(ast[2], values, current, columns)
        if op == "and":
            return truthy(left) and truthy(evaluate(ast[3], values, current, columns))
        if op == "or":
            return truthy(left) or truthy(evaluate(ast[3], values, current, columns))
        right = evaluate(ast[3], values, current, columns)
        if op == "=":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op in ("<", "<=", ">", ">="):
            return _order(op, left, right)
        return _arithmetic(op, left, right)
    if kind == "call":
        impl = FUNCTIONS[ast[1]][2]
        return impl(*(evaluate(arg, values, current, columns) for arg in ast[2]))
    raise ExpressionError(f"unknown expression node {kind!r}")
