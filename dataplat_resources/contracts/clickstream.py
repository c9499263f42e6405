"""Clickstream: every page view and click on the website (topic ``topic_clickstream``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from dataplat_resources.contracts._base import (
    Contract,
    CountryCode,
    EventId,
    EventTime,
    SessionId,
    ShortText,
    UserId,
)


class ClickAction(StrEnum):
    PAGE_VIEW = "page_view"
    CLICK = "click"
    SCROLL = "scroll"
    FORM_SUBMIT = "form_submit"


class PageType(StrEnum):
    HOME = "home"
    CATEGORY = "category"
    PRODUCT = "product"
    SEARCH = "search"
    CART = "cart"
    CHECKOUT = "checkout"
    CONFIRMATION = "confirmation"
    ACCOUNT = "account"
    HELP = "help"


Url = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^(/|https?://)\S*$")]


class Viewport(Contract):
    width: Annotated[int, Field(ge=120, le=10_000)]
    height: Annotated[int, Field(ge=120, le=10_000)]


class ClickEvent(Contract):
    """One interaction on a web page, ordered within its session by ``sequence_number``."""

    event_id: EventId
    event_time: EventTime
    user_id: UserId
    session_id: SessionId
    action: ClickAction
    page_url: Url
    page_type: PageType
    referrer_url: Url | None = None
    element_id: ShortText | None = None
    scroll_depth_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    sequence_number: Annotated[int, Field(ge=0, le=100_000)]
    time_on_page_ms: Annotated[int, Field(ge=0, le=86_400_000)] | None = None
    viewport: Viewport
    ip_country: CountryCode | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.action in (ClickAction.CLICK, ClickAction.FORM_SUBMIT) and self.element_id is None:
            raise ValueError(f"{self.action.value} needs element_id")
        if self.action is ClickAction.SCROLL and self.scroll_depth_pct is None:
            raise ValueError("scroll needs scroll_depth_pct")
        if self.action is not ClickAction.SCROLL and self.scroll_depth_pct is not None:
            raise ValueError("scroll_depth_pct is only allowed on scroll")
        return self
