"""MLflow's search grammar: a real parser for filter strings and ``order_by``.

``metrics.acc > 0.9 and params.model = 'rf' and tags.`my key` LIKE 'a%'``
becomes a list of ``Condition``; the stores turn conditions into SQL with
every value bound as a parameter, never pasted into the query text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInput, shown

Value = str | float | int | tuple[str | float | int, ...]

KINDS = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
    # traces (issue #15): trace.status, metadata.`mlflow.sourceRun`, span.name
    "trace": "attribute", "metadata": "metadata", "request_metadata": "metadata", "span": "span",
}  # fmt: skip

COMPARATORS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN")
STRING_COMPARATORS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
NUMERIC_COMPARATORS = ("=", "!=", "<", "<=", ">", ">=")

# SQLite refuses an expression tree deeper than 1,000 and a LIKE/GLOB pattern
# over 50,000 bytes; refusing well before either names the filter's problem
# instead of failing inside SQLite (issue #12, defect 4).
MAX_CONDITIONS = 100
MAX_PATTERN_BYTES = 50_000
# SQLite integers are signed 64-bit: larger numbers cannot be bound.
_INT64 = range(-(2**63), 2**63)
_ECHO = 100  # characters of the filter shown each side of an error
MAX_RESULTS = 2**62  # keeps max_results + offset + 1 inside SQLite's 64-bit LIMIT

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<op>!=|<>|<=|>=|==|=|<|>)
  | (?P<punct>[(),])
  | (?P<field>[A-Za-z_]\w*(?:\.(?:`[^`]*`|"[^"]*"|[\w.:/-]+))?)
  | (?P<backtick>`[^`]*`)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    """One lexical token and where it starts in the filter string."""

    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Condition:
    """``<kind>.<key> <comparator> <value>``, e.g. metric ``acc`` ``>`` ``0.9``."""

    kind: str
    key: str
    comparator: str
    value: Value


@dataclass(frozen=True)
class OrderBy:
    """One ``order_by`` clause."""

    kind: str
    key: str
    ascending: bool


def _error(text: str, pos: int, message: str) -> InvalidInput:
    # The echo must stay printable and short: a lone surrogate would make the
    # message itself unencodable, and a 40,000-character filter unreadable.
    start = max(0, pos - _ECHO) if len(text) > 2 * _ECHO else 0
    shown = re.sub("[\ud800-\udfff]", "\ufffd", text[start:start + 2 * _ECHO])
    shown = ("..." if start else "") + shown + ("..." if start + 2 * _ECHO < len(text) else "")
    caret = " " * (pos - start + (3 if start else 0)) + "^"
    return InvalidInput(f"invalid filter string: {message} at position {pos}\n  {shown}\n  {caret}")


def _check_text(text: object, what: str) -> str:
    """``text`` if it is a string SQLite can store (UTF-8: no lone surrogates)."""
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a string, got {shown(text)} ({type(text).__name__})")
    for pos, char in enumerate(text):
        if "\ud800" <= char <= "\udfff":
            raise _error(text, pos, f"{char!r} is a lone surrogate, not a Unicode character (remove it)")
    return text


def _tokens(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


def _unquote(text: str) -> str:
    quote = text[0]
    if quote in "'\"":
        return text[1:-1].replace(quote * 2, quote)
    if quote == "`":
        return text[1:-1]
    return text


def parse_field(text: str, pos: int = 0, source: str | None = None) -> tuple[str, str]:
    """Split ``metrics.`my key``` into ``("metric", "my key")``; a bare name is an attribute."""
    source = source if source is not None else text
    prefix, dot, key = text.partition(".")
    if not dot:
        return "attribute", text
    kind = KINDS.get(prefix.lower())
    if kind is None:
        raise _error(
            source, pos,
            f"unknown prefix {prefix!r}: use metrics., params., tags., datasets. or attributes.",
        )  # fmt: skip
    key = _unquote(key)
    if not key:
        raise _error(source, pos, f"empty key after {prefix!r}")
    return kind, key


def parse_filter(text: str | None) -> list[Condition]:
    """Parse a filter string into conditions joined by AND; raise ``InvalidInput`` on errors.

    The message points at the offending token with a caret.
    """
    if text is None:
        return []
    if not _check_text(text, "filter_string").strip():
        return []
    tokens = _tokens(text)
    conditions: list[Condition] = []
    i = 0

    def peek(offset: int = 0) -> Token | None:
        return tokens[i + offset] if i + offset < len(tokens) else None

    while True:
        tok = peek()
        if tok is None:
            raise _error(text, len(text), "expected a condition such as metrics.acc > 0.9")
        if tok.kind == "backtick":
            raise _error(text, tok.pos, "a quoted key needs a prefix, as in params.`my key`")
        if tok.kind != "field" or tok.text.upper() in ("AND", "OR", "NOT", "IN", "LIKE", "ILIKE"):
            raise _error(text, tok.pos, f"expected a field such as metrics.acc, got {tok.text!r}")
        kind, key = parse_field(tok.text, tok.pos, text)
        i += 1
        comparator, value, i = _comparison(text, tokens, i, tok)
        conditions.append(Condition(kind, key, comparator, value))
        if len(conditions) > MAX_CONDITIONS:
            raise _error(text, tok.pos, f"more than {MAX_CONDITIONS} conditions; split the search or use IN (...)")
        tok = peek()
        if tok is None:
            return conditions
        word = tok.text.upper()
        if word == "OR":
            raise _error(text, tok.pos, "OR is not supported: MLflow's grammar joins conditions with AND")
        if word != "AND":
            raise _error(text, tok.pos, f"expected AND between conditions, got {tok.text!r}")
        i += 1


def _comparison(text: str, tokens: list[Token], i: int, field: Token) -> tuple[str, Value, int]:
    def at(j: int) -> Token | None:
        return tokens[j] if j < len(tokens) else None

    tok = at(i)
    if tok is None:
        raise _error(text, len(text), f"expected a comparator after {field.text!r}")
    word = tok.text.upper()
    if tok.kind == "op":
        comparator = {"==": "=", "<>": "!="}.get(tok.text, tok.text)
        i += 1
    elif word in ("LIKE", "ILIKE", "IN"):
        comparator = word
        i += 1
    elif word == "NOT" and at(i + 1) is not None and at(i + 1).text.upper() == "IN":  # type: ignore[union-attr]
        comparator = "NOT IN"
        i += 2
    else:
        raise _error(
            text, tok.pos,
            f"expected a comparator ({', '.join(COMPARATORS)}) after {field.text!r}, got {tok.text!r}",
        )  # fmt: skip
    if comparator in ("IN", "NOT IN"):
        values: list[str | float | int] = []
        tok = at(i)
        if tok is None or tok.text != "(":
            raise _error(text, tok.pos if tok else len(text), f"expected '(' after {comparator}")
        i += 1
        while True:
            value, i = _value(text, tokens, i)
            values.append(value)
            tok = at(i)
            if tok is not None and tok.text == ",":
                i += 1
                continue
            if tok is not None and tok.text == ")":
                return comparator, tuple(values), i + 1
            raise _error(text, tok.pos if tok else len(text), "expected ',' or ')' in the IN list")
    value, i = _value(text, tokens, i)
    return comparator, value, i


def _value(text: str, tokens: list[Token], i: int) -> tuple[str | float | int, int]:
    tok = tokens[i] if i < len(tokens) else None
    if tok is None:
        raise _error(text, len(text), "expected a value")
    if tok.kind == "string":
        return _unquote(tok.text), i + 1
    if tok.kind == "number":
        if re.fullmatch(r"[-+]?\d+", tok.text):
            # int() refuses over 4,300 digits (CVE-2020-10735): such a number is out of range anyway.
            number = int(tok.text) if len(tok.text) < 100 else None
            if number is None or number not in _INT64:
                raise _error(text, tok.pos, "this integer does not fit in SQLite's 64 bits; "
                                            "write it as a float, such as 1e20")  # fmt: skip
            return number, i + 1
        return float(tok.text), i + 1
    raise _error(text, tok.pos, f"expected a quoted string or a number, got {tok.text!r}")


def parse_order_by(clauses: list[str] | None) -> list[OrderBy]:
    """Parse ``["metrics.loss ASC", "params.`lr` DESC"]``; the default direction is ASC."""
    if isinstance(clauses, str) or not isinstance(clauses, (list, tuple, type(None))):
        raise InvalidInput(f"order_by must be a list of strings such as ['metrics.loss DESC'], got {clauses!r}")
    orders = []
    for clause in clauses or []:
        tokens = _tokens(_check_text(clause, "an order_by clause"))
        if not tokens or tokens[0].kind != "field":
            raise _error(clause, 0, "expected a field such as metrics.loss")
        kind, key = parse_field(tokens[0].text, 0, clause)
        ascending = True
        if len(tokens) > 1:
            direction = tokens[1].text.upper()
            if direction not in ("ASC", "DESC") or len(tokens) > 2:
                raise _error(clause, tokens[1].pos, "expected ASC or DESC after the field")
            ascending = direction == "ASC"
        orders.append(OrderBy(kind, key, ascending))
    return orders


def check_max_results(value: object, what: str = "max_results") -> int | None:
    """``value`` as a row limit: ``None`` (no limit) or an integer from 0 to ``MAX_RESULTS``.

    Numpy integers are accepted; strings, floats and booleans are refused, as in MLflow.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidInput(f"{what} must be an integer such as 100, got {shown(value)} ({type(value).__name__})")
    number = int(value.__index__())  # type: ignore[attr-defined]
    if not 0 <= number <= MAX_RESULTS:
        raise InvalidInput(f"{what} must be between 0 and 2**62, got {shown(number)}")
    return number


def like_to_glob(pattern: str) -> str:
    """Translate an SQL LIKE pattern into GLOB, which SQLite matches case-sensitively as MLflow does."""
    out = []
    for char in pattern:
        if char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        elif char in "*?[":
            out.append(f"[{char}]")
        else:
            out.append(char)
    return "".join(out)


def check_comparator(condition: Condition, allowed: tuple[str, ...], what: str) -> None:
    """Raise ``InvalidInput`` when ``condition`` uses a comparator ``what`` does not support."""
    if condition.comparator not in allowed:
        raise InvalidInput(
            f"invalid filter string: {what} {condition.key!r} does not support "
            f"{condition.comparator!r}; use one of {', '.join(allowed)}"
        )


def value_sql(column: str, condition: Condition, numeric: bool) -> tuple[str, list[object]]:
    """SQL for ``column <comparator> ?`` with the value(s) bound; checks the value's type."""
    comparator, value = condition.comparator, condition.value
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        if numeric and not isinstance(item, (int, float)):
            raise InvalidInput(
                f"invalid filter string: {condition.kind} {condition.key!r} is compared "
                f"to {item!r}, expected a number"
            )
        if not numeric and not isinstance(item, str):
            raise InvalidInput(
                f"invalid filter string: {condition.kind} {condition.key!r} is compared "
                f"to {item!r}, expected a quoted string such as '{item}'"
            )
    if comparator in ("IN", "NOT IN"):
        marks = ", ".join("?" for _ in values)
        return f"{column} {comparator} ({marks})", list(values)
    if comparator in ("LIKE", "ILIKE"):
        pattern = like_to_glob(str(value)) if comparator == "LIKE" else str(value)
        if len(pattern.encode()) > MAX_PATTERN_BYTES:
            raise InvalidInput(
                f"invalid filter string: the {comparator} pattern for {condition.kind} {condition.key!r} is "
                f"{len(pattern.encode())} bytes; SQLite's limit is {MAX_PATTERN_BYTES}: use a shorter pattern"
            )
        if comparator == "LIKE":
            return f"{column} GLOB ?", [pattern]
        return f"lower({column}) LIKE lower(?) ESCAPE '\\'", [value]
    return f"{column} {comparator} ?", [value]


def where_clauses(
    conditions: list[Condition],
    attributes: dict[str, tuple[str, bool]],
    keyed: dict[str, str],
    what: str,
) -> tuple[list[str], list[object]]:
    """SQL clauses (to join with AND) and their bound values, for one kind of entity.

    ``attributes`` maps an attribute name to ``(column, numeric)``. ``keyed``
    maps ``"metric"``, ``"param"`` or ``"tag"`` to a subquery with a ``?`` for
    the key and ``{}`` for the value test, e.g.
    ``"r.run_id IN (SELECT run_id FROM params WHERE key = ? AND {})"``;
    metrics compare as numbers, params and tags as strings. Anything else is
    an ``InvalidInput`` that says what ``what`` can be filtered by.
    """
    clauses: list[str] = []
    params: list[object] = []
    for cond in conditions:
        if cond.kind in keyed:
            numeric = cond.kind == "metric"
            check_comparator(cond, NUMERIC_COMPARATORS if numeric else STRING_COMPARATORS, cond.kind)
            sql, values = value_sql("value", cond, numeric)
            clauses.append(keyed[cond.kind].format(sql))
            params += [cond.key, *values]
        elif cond.kind == "attribute" and cond.key in attributes:
            column, numeric = attributes[cond.key]
            check_comparator(cond, NUMERIC_COMPARATORS if numeric else STRING_COMPARATORS, "attribute")
            sql, values = value_sql(column, cond, numeric)
            clauses.append(sql)
            params += values
        else:
            unknown = "unknown attribute" if cond.kind == "attribute" else cond.kind
            raise InvalidInput(
                f"invalid filter string: {unknown} {cond.key!r}: {what} can be filtered by "
                f"{', '.join(f'{kind}s.<key>' for kind in keyed)} or {', '.join(attributes)}"
            )
    return clauses, params
