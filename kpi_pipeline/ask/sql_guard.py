"""Which SQL the `ask` tools may run: one SELECT over the `kpi` schema, nothing else.

The statement is parsed with DuckDB's parser (`json_serialize_sql`, which serializes SELECT statements only)
and its tree is walked: every table must be `kpi.<name>` or a common table expression in scope, and no
table function (`read_csv`, `glob`, `range`, `query`, ...) or function that reaches outside the data
(`pg_read_file`, `current_setting`, `set_config`, `dblink`, ...) may appear. DuckDB's parser is PostgreSQL's,
so the same check holds on both engines; what it cannot parse is refused. The read-only connection and the
time limit (kpi_pipeline/ask/reader.py) are the second line, not the first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

ALLOWED_SCHEMA = "kpi"
# functions that read files, settings or other databases, sleep, or write; refused whatever their arguments
# (the `*_to_xml` family runs a query given as text, which this check would never see)
_DENIED_FUNCTION = re.compile(
    r"^(pg_|lo_|dblink|read_|txid_|current_setting$|set_config$|getenv$|getvariable$|query$|query_table$|sleep"
    r"|system$|current_database$|current_schema|version$|inet_|has_.*privilege$|.*_to_xml|.*xmlschema$"
    r"|nextval$|setval$|currval$|lastval$)",
    re.IGNORECASE,
)


class SqlRefused(ValueError):
    """A statement the ask tools do not run; the message says why in one line."""


def check_select(sql: str) -> None:
    """Raise SqlRefused unless `sql` is exactly one SELECT reading only `kpi` tables and views."""
    if not sql.strip():
        raise SqlRefused("the query is empty: give one SELECT over kpi.* tables")
    tree = _parse(sql)
    for statement in tree.get("statements") or []:
        _check_node(statement["node"], frozenset())


def _parse(sql: str) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(":memory:", config={"enable_external_access": False}) as con:
        try:
            count = len(con.extract_statements(sql))
        except duckdb.Error as exc:
            raise SqlRefused(f"not a SELECT this tool runs: {' '.join(str(exc).split())}") from None
        if count != 1:
            raise SqlRefused(f"give exactly one statement, not {count}")
        row = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        message = str(tree.get("error_message") or "it does not parse")
        if "Only SELECT" in message:
            raise SqlRefused("only SELECT (or WITH ... SELECT) is allowed: nothing may change or configure the data")
        raise SqlRefused(f"not a SELECT this tool runs: {' '.join(message.split())}")
    return tree


def _cte_names(node: Mapping[str, Any]) -> set[str]:
    cte_map = node.get("cte_map")
    entries = cte_map.get("map") if isinstance(cte_map, Mapping) else None
    return {str(e["key"]).lower() for e in entries or [] if isinstance(e, Mapping) and "key" in e}


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        yield from value.values()
    elif isinstance(value, list):
        yield from value


def _check_node(value: Any, ctes: frozenset[str]) -> None:
    """Walk the parse tree; a WITH's names are visible in the node that declares them and below it."""
    if isinstance(value, Mapping):
        declared = _cte_names(value)
        if declared:
            ctes = ctes | declared
        kind = value.get("type")
        if kind == "BASE_TABLE":
            _check_table(value, ctes)
        elif kind == "TABLE_FUNCTION":
            name = (value.get("function") or {}).get("function_name", "?")
            raise SqlRefused(f"table function {name}() is not allowed: read kpi.* tables and views only")
        elif value.get("class") == "FUNCTION":
            _check_function(value)
    for child in _children(value):
        if isinstance(child, Mapping | list):
            _check_node(child, ctes)


def _check_table(ref: Mapping[str, Any], ctes: frozenset[str]) -> None:
    catalog = str(ref.get("catalog_name") or "")
    schema = str(ref.get("schema_name") or "")
    name = str(ref.get("table_name") or "")
    written = ".".join(p for p in (catalog, schema, name) if p)
    if catalog:
        raise SqlRefused(f"{written}: name tables as kpi.<table>, without a database")
    if not schema:
        if name.lower() in ctes:
            return
        raise SqlRefused(f"{name}: qualify tables with their schema, kpi.<table> (only the kpi schema is readable)")
    if schema.lower() != ALLOWED_SCHEMA:
        raise SqlRefused(f"{written}: only the kpi schema is readable (kpi.fct_metric_daily, kpi.okr_progress, ...)")


def _check_function(call: Mapping[str, Any]) -> None:
    name = str(call.get("function_name") or "")
    schema = str(call.get("schema") or "") or str(call.get("catalog") or "")
    if schema and not call.get("is_operator"):
        raise SqlRefused(f"{schema}.{name}(): schema-qualified functions are not allowed")
    if _DENIED_FUNCTION.match(name):
        raise SqlRefused(f"{name}() is not allowed: it reaches outside the published data")
