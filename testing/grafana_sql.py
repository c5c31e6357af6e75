"""Grafana's SQL templating, for running dashboard queries outside Grafana.

Used by the real-schema dashboard test and by the e2e run, which both execute
every panel query from grafana/dashboards/*.json as the read-only role.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import datetime, UTC

from collections.abc import Sequence

from components.grafana import DASHBOARDS_SOURCE

# ---------------------------------------------------------------------------
# A small expander for exactly the Grafana syntax the dashboards use.
# Browser side (templateSrv + the SQL data source's interpolateVariable): $var, ${var}, [[var]].
# Server side (pkg/tsdb/grafana-postgresql-datasource): $__unixEpochFrom()/To() first, then
# $__timeFilter(col), $__timeFrom(), $__timeTo(). Anything else is refused, not guessed.
# ---------------------------------------------------------------------------

VariableValue = str | Sequence[str]
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]")
_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime


def _rfc3339nano(moment: datetime) -> str:
    """Go's time.RFC3339Nano in UTC: fraction without trailing zeros, omitted when zero."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def format_variable(value: VariableValue, multi_or_all: bool) -> str:
    """Grafana's SQL interpolateVariable: lists and multi/all values become quoted literals.

    A single value only has its quotes escaped.
    """
    if not isinstance(value, str):
        return ",".join(_quote_literal(v) for v in value)
    return _quote_literal(value) if multi_or_all else value.replace("'", "''")


def substitute_variables(sql: str, values: dict[str, VariableValue], multi_or_all: dict[str, bool]) -> str:
    """Replace dashboard variables; names that are not variables (macros) are left for the server."""

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            return match.group(0)
        return format_variable(values[name], multi_or_all.get(name, False))

    return _VARIABLE.sub(replace, sql)


def _macro_args(params: str) -> list[str]:
    params = params.replace("\n", "").strip()
    if not params:
        return [""]
    return [arg.strip() for arg in next(csv.reader([params], skipinitialspace=True))]


def expand_macros(sql: str, time_range: TimeRange) -> str:
    """The PostgreSQL data source's macros, as its Go source expands them."""
    sql = sql.replace("$__unixEpochFrom()", str(int(time_range.start.timestamp())))
    sql = sql.replace("$__unixEpochTo()", str(int(time_range.end.timestamp())))
    start, end = _rfc3339nano(time_range.start), _rfc3339nano(time_range.end)

    def replace(match: re.Match) -> str:
        name, args = match.group(1), _macro_args(match.group(2))
        if name == "__timeFilter":
            if not args[0]:
                raise ValueError("$__timeFilter needs a column")
            return f"{args[0]} BETWEEN '{start}' AND '{end}'"
        if name == "__timeFrom":
            return f"'{start}'"
        if name == "__timeTo":
            return f"'{end}'"
        raise ValueError(f"macro ${name}() is not supported by this expander; teach it before using it")

    return _MACRO.sub(replace, sql)


def grafana_sql(
    sql: str, values: dict[str, VariableValue], multi_or_all: dict[str, bool], time_range: TimeRange
) -> str:
    expanded = expand_macros(substitute_variables(sql, values, multi_or_all), time_range)
    leftover = re.search(r"\$\w+|\[\[", expanded)
    if leftover:
        raise ValueError(f"unexpanded {leftover.group(0)!r} in: {expanded}")
    return expanded


# ---------------------------------------------------------------------------
# Dashboards, read from the repo.
# ---------------------------------------------------------------------------


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS_SOURCE.glob("*.json"))}


def panels() -> list[tuple[str, dict]]:
    return [(name, panel) for name, dash in dashboards().items() for panel in dash["panels"]]
