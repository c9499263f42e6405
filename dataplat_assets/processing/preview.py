"""Small Markdown previews of Spark tables for asset metadata (no pandas needed)."""

from typing import Any


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 40 else text[:37] + "..."


def markdown_preview(df: Any, rows: int = 5, order_by: list[str] | None = None) -> str:
    """The first ``rows`` rows of a Spark DataFrame as a Markdown table."""
    frame = df.orderBy(*order_by) if order_by else df
    sample = frame.limit(rows).collect()
    columns = df.columns
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r[c]) for c in columns) + " |" for r in sample]
    return "\n".join(lines)
