"""Turn pydantic validation errors into short, readable reasons with field paths."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from dataplat_resources.contracts.cdc import CDC_TAGS
from dataplat_resources.contracts.external import EXTERNAL_KINDS

# Union tags pydantic puts in error locations; they say which branch, not where in the data.
_UNION_TAGS = CDC_TAGS | set(EXTERNAL_KINDS)
_MAX_ISSUES = 10


@dataclass(frozen=True)
class FieldIssue:
    path: str
    reason: str
    error_type: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


def field_issues(error: ValidationError) -> list[FieldIssue]:
    """Every problem as (dotted path, reason), union tags removed."""
    issues = []
    for detail in error.errors(include_url=False, include_input=False):
        loc = [str(part) for part in detail["loc"]]
        if loc and loc[0] in _UNION_TAGS:
            loc = loc[1:]
        issues.append(FieldIssue(".".join(loc), detail["msg"].removeprefix("Value error, "), detail["type"]))
    return issues


def describe(error: ValidationError) -> str:
    """One line for logs, dead-letter headers and quarantine rows."""
    issues = field_issues(error)
    text = "; ".join(str(issue) for issue in issues[:_MAX_ISSUES])
    if len(issues) > _MAX_ISSUES:
        text += f"; and {len(issues) - _MAX_ISSUES} more"
    return text
