"""Clickstream of the website (topic ``topic_clickstream``).

A session is a walk of a Markov chain over page types (:data:`TRANSITIONS`, each row sums to 1,
``exit`` ends the session; at most :data:`MAX_PAGES` pages). Landing pages: home 50 %,
product 25 % (ads), category 15 %, search 10 %. On every page the visitor produces a
``page_view`` and then, ordered in time, 0-3 scrolls (depth growing towards 100 %), 0-3 clicks
on page elements and, on pages with a form, a ``form_submit`` half the time.

Invariants the tests check: ``sequence_number`` is 0, 1, 2, ... within a session; the
``referrer_url`` of a page view is the previous page's URL (an external site or nothing for the
first page), and all interactions on a page carry that page's referrer; ``time_on_page_ms``
grows within a page visit and is absent on the page view itself (it is not known yet).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dataplat_resources import topics
from simulators.base import BaseSource, Draft, SimMessage
from simulators.invalid import CLICK_EVENT_SPEC, COMMON_KINDS, corrupt
from simulators.sampling import Weighted
from simulators.timeutil import iso_us, uuid4_str
from simulators.world import SHOP_URL, User

EXIT = "exit"
TRANSITIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "home": (
        ("category", 0.35),
        ("search", 0.20),
        ("product", 0.15),
        ("account", 0.05),
        ("help", 0.03),
        ("cart", 0.02),
        (EXIT, 0.20),
    ),
    "category": (("product", 0.50), ("category", 0.10), ("search", 0.10), ("home", 0.05), (EXIT, 0.25)),
    "product": (
        ("product", 0.20),
        ("cart", 0.22),
        ("category", 0.15),
        ("search", 0.10),
        ("home", 0.05),
        ("help", 0.02),
        (EXIT, 0.26),
    ),
    "search": (("product", 0.55), ("search", 0.12), ("category", 0.08), (EXIT, 0.25)),
    "cart": (("checkout", 0.55), ("product", 0.10), ("home", 0.05), (EXIT, 0.30)),
    "checkout": (("confirmation", 0.70), ("cart", 0.10), ("help", 0.05), (EXIT, 0.15)),
    "confirmation": (("home", 0.30), ("account", 0.20), (EXIT, 0.50)),
    "account": (("home", 0.40), ("help", 0.10), (EXIT, 0.50)),
    "help": (("home", 0.30), ("account", 0.10), (EXIT, 0.60)),
}
LANDING = (("home", 0.50), ("product", 0.25), ("category", 0.15), ("search", 0.10))
MAX_PAGES = 30
ELEMENTS: dict[str, tuple[str, ...]] = {
    "home": ("nav-category", "hero-banner", "search-box", "product-card"),
    "category": ("product-card", "filter-price", "sort-select", "pagination-next"),
    "product": ("add-to-cart", "image-gallery", "reviews-tab", "size-select"),
    "search": ("product-card", "search-box", "filter-brand"),
    "cart": ("checkout-button", "quantity-select", "remove-item"),
    "checkout": ("place-order", "shipping-option", "payment-method"),
    "confirmation": ("continue-shopping", "view-order"),
    "account": ("orders-tab", "settings-tab", "logout-link"),
    "help": ("faq-item", "contact-support"),
}
FORMS = {"search": "search-form", "checkout": "checkout-form", "account": "login-form", "help": "contact-form"}
EXTERNAL_REFERRERS: tuple[tuple[str | None, float], ...] = (
    (None, 0.35),
    ("https://www.google.com/", 0.35),
    ("https://www.bing.com/", 0.05),
    ("https://www.instagram.com/", 0.10),
    ("https://t.co/ad", 0.05),
    ("https://newsletter.dataplat.dev/weekly", 0.10),
)
HELP_TOPICS = ("shipping", "returns", "payment", "sizes", "contact")
CONCURRENT_SESSIONS = 24
SESSION_DELAY_US = (20_000, 1_000_000)

_NEXT = {page: Weighted.of(row) for page, row in TRANSITIONS.items()}
_LANDING = Weighted.of(LANDING)
_REFERRERS = Weighted.of(EXTERNAL_REFERRERS)
_CLICKS = Weighted((0, 1, 2, 3), (0.3, 0.4, 0.2, 0.1))


class _ClickSession:
    __slots__ = ("delay_us", "events", "last_us", "session_id", "user")

    def __init__(self, user: User, session_id: str, events: list[dict[str, Any]], delay_us: int) -> None:
        self.user = user
        self.session_id = session_id
        self.events = events  # reversed
        self.delay_us = delay_us
        self.last_us = 0


class ClickstreamSource(BaseSource):
    """Website page views, scrolls, clicks and form submits, walked by a Markov chain."""

    name: ClassVar[str] = "clickstream"
    topic: ClassVar[str] = topics.CLICKSTREAM
    invalid_kinds: ClassVar[tuple[str, ...]] = COMMON_KINDS

    def __init__(self, *, concurrency: int = CONCURRENT_SESSIONS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._slots: list[_ClickSession | None] = [None] * concurrency

    def _url(self, page: str) -> str:
        rng = self.rng
        match page:
            case "home":
                return f"{SHOP_URL}/"
            case "category":
                return f"{SHOP_URL}/c/{self.world.pick_product(rng).category}"
            case "product":
                return f"{SHOP_URL}/p/{self.world.pick_product(rng).product_id}"
            case "search":
                return f"{SHOP_URL}/search?q={rng.choice(self.world.search_terms).replace(' ', '+')}"
            case "confirmation":
                return f"{SHOP_URL}/checkout/confirmation?order=o_{rng.getrandbits(64):016x}"
            case "help":
                return f"{SHOP_URL}/help/{rng.choice(HELP_TOPICS)}"
            case _:
                return f"{SHOP_URL}/{page}"

    def _page_events(self, page: str, url: str, referrer: str | None) -> list[dict[str, Any]]:
        """The page view and the interactions on one page, in time order."""
        rng = self.rng
        base: dict[str, Any] = {"page_url": url, "page_type": page}
        if referrer is not None:
            base["referrer_url"] = referrer
        dwell_ms = min(600_000, int(rng.lognormvariate(9.9, 0.9)))  # median ~20 s
        moments: list[tuple[int, dict[str, Any]]] = []
        depths = sorted(rng.sample(range(10, 101, 10), rng.randint(0, 3)))
        for depth in depths:
            moments.append((rng.randint(300, dwell_ms), {"action": "scroll", "scroll_depth_pct": depth}))
        elements = ELEMENTS[page]
        for _ in range(_CLICKS.pick(rng)):
            moments.append((rng.randint(300, dwell_ms), {"action": "click", "element_id": rng.choice(elements)}))
        if page in FORMS and rng.random() < 0.5:
            moments.append((rng.randint(300, dwell_ms), {"action": "form_submit", "element_id": FORMS[page]}))
        moments.sort(key=lambda m: m[0])
        # Scroll depths grow with time; re-deal them in time order.
        scroll_depths = iter(depths)
        events = [{"action": "page_view", **base}]
        last_ms = 0
        for moment_ms, interaction in moments:
            at_ms = max(moment_ms, last_ms + 1)
            last_ms = at_ms
            if interaction["action"] == "scroll":
                interaction["scroll_depth_pct"] = next(scroll_depths)
            events.append({**interaction, **base, "time_on_page_ms": at_ms})
        return events

    def _new_session(self) -> _ClickSession:
        rng = self.rng
        user = self.world.pick_user(rng, "web")
        page = _LANDING.pick(rng)
        referrer = _REFERRERS.pick(rng)
        events: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            url = self._url(page)
            events.extend(self._page_events(page, url, referrer))
            referrer = url
            page = _NEXT[page].pick(rng)
            if page == EXIT:
                break
        for number, event in enumerate(events):
            event["sequence_number"] = number
        events.reverse()
        return _ClickSession(user, uuid4_str(rng), events, self.time_rng.randint(*SESSION_DELAY_US))

    def _drafts(self) -> tuple[list[Draft], float]:
        slots = self._slots
        index = self.rng.randrange(len(slots))
        session = slots[index]
        if session is None or not session.events:
            session = slots[index] = self._new_session()
        event = session.events.pop()
        produce = self.clock.now_us()
        event_us, late = self._session_event_us(produce, session)
        user = session.user
        payload = {
            "event_id": uuid4_str(self.rng),
            "event_time": iso_us(event_us),
            "user_id": user.user_id,
            "session_id": session.session_id,
            **event,
            "viewport": user.viewport,
            "ip_country": user.country,
        }
        return [Draft(user.user_id.encode(), payload, produce, late)], 1.0

    def _corrupt(self, draft: Draft, kind: str) -> SimMessage:
        return self.invalid_message(
            draft, kind, corrupt(draft.payload, kind, CLICK_EVENT_SPEC, self.fault_rng, draft.produce_us)
        )
