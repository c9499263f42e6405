"""App events from the mobile app and the website (topic ``topic_app_events``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from dataplat_resources.contracts._base import (
    Contract,
    CountryCode,
    CurrencyCode,
    EventId,
    EventTime,
    Latitude,
    Longitude,
    Money,
    SessionId,
    ShortText,
    Text,
    UserId,
)


class EventType(StrEnum):
    APP_OPEN = "app_open"
    APP_BACKGROUND = "app_background"
    SCREEN_VIEW = "screen_view"
    PAGE_VIEW = "page_view"
    SEARCH = "search"
    PRODUCT_VIEW = "product_view"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    CHECKOUT_START = "checkout_start"
    PURCHASE = "purchase"
    LOGIN = "login"
    LOGOUT = "logout"
    SIGNUP = "signup"


class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WEB = "web"


class EventSource(StrEnum):
    MOBILE_APP = "mobile_app"
    WEB = "web"


class OperatingSystem(StrEnum):
    IOS = "ios"
    ANDROID = "android"
    WINDOWS = "windows"
    MACOS = "macos"
    LINUX = "linux"
    CHROMEOS = "chromeos"


class Browser(StrEnum):
    CHROME = "chrome"
    SAFARI = "safari"
    FIREFOX = "firefox"
    EDGE = "edge"
    OTHER = "other"


PRODUCT_EVENTS = frozenset({EventType.PRODUCT_VIEW, EventType.ADD_TO_CART, EventType.REMOVE_FROM_CART})
CART_EVENTS = frozenset({EventType.ADD_TO_CART, EventType.REMOVE_FROM_CART})
MOBILE_ONLY_EVENTS = frozenset({EventType.APP_OPEN, EventType.APP_BACKGROUND, EventType.SCREEN_VIEW})
# The purchase funnel the simulators walk and the processing tier measures.
FUNNEL = (EventType.PRODUCT_VIEW, EventType.ADD_TO_CART, EventType.CHECKOUT_START, EventType.PURCHASE)


class Device(Contract):
    os: OperatingSystem
    os_version: Annotated[str, Field(min_length=1, max_length=32)]
    model: ShortText
    app_version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")] | None = None
    browser: Browser | None = None


class Geo(Contract):
    country: CountryCode
    city: Annotated[str, Field(min_length=1, max_length=85)]
    lat: Latitude
    lon: Longitude


class EventProperties(Contract):
    """Typed, optional per-event properties. Unknown keys are refused, not dropped."""

    screen: Text | None = None
    page: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    product_id: ShortText | None = None
    category: ShortText | None = None
    price: Money | None = None
    quantity: Annotated[int, Field(ge=1, le=1000)] | None = None
    currency: CurrencyCode | None = None
    order_id: ShortText | None = None
    revenue: Annotated[float, Field(gt=0.0, le=10_000_000.0)] | None = None
    search_query: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    duration_ms: Annotated[int, Field(ge=0, le=86_400_000)] | None = None


class AppEvent(Contract):
    """One user interaction in the mobile app or on the website."""

    event_id: EventId
    event_type: EventType
    event_time: EventTime
    user_id: UserId
    session_id: SessionId
    source: EventSource
    platform: Platform
    device: Device
    geo: Geo
    properties: EventProperties = EventProperties()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # Identity comparisons on enum members: this runs for every message ingested.
        event_type, platform, device, props = self.event_type, self.platform, self.device, self.properties
        if self.source is EventSource.WEB:
            if platform is not Platform.WEB:
                raise ValueError(f"source 'web' does not match platform {platform.value!r}")
            if device.browser is None:
                raise ValueError("device.browser is required for web events")
            if event_type in MOBILE_ONLY_EVENTS:
                raise ValueError(f"event_type {event_type.value!r} only exists in the mobile app")
        else:
            if platform is Platform.WEB:
                raise ValueError("source 'mobile_app' does not match platform 'web'")
            if device.app_version is None:
                raise ValueError("device.app_version is required for mobile app events")
            if device.os is not _PLATFORM_OS[platform]:
                raise ValueError(f"device.os {device.os.value!r} does not match platform {platform.value!r}")
        rule = _PROPERTY_RULES.get(event_type)
        if rule is not None:
            missing = [name for name in rule if getattr(props, name) is None]
            if missing:
                raise ValueError(f"{event_type.value} needs " + " and ".join(f"properties.{m}" for m in missing))
        return self


_PLATFORM_OS = {Platform.IOS: OperatingSystem.IOS, Platform.ANDROID: OperatingSystem.ANDROID}
# Properties each event type must carry; the simulators and the silver jobs rely on them.
_PROPERTY_RULES: dict[EventType, tuple[str, ...]] = {
    EventType.PRODUCT_VIEW: ("product_id", "price"),
    EventType.ADD_TO_CART: ("product_id", "price", "quantity"),
    EventType.REMOVE_FROM_CART: ("product_id", "price", "quantity"),
    EventType.PURCHASE: ("order_id", "revenue", "currency"),
    EventType.SEARCH: ("search_query",),
    EventType.SCREEN_VIEW: ("screen",),
    EventType.PAGE_VIEW: ("page",),
}
