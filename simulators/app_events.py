"""Mobile app and website events (topic ``topic_app_events``).

Traffic is a set of concurrent user sessions (24 by default) whose events interleave, as they
do on a real topic. A session belongs to one user (drawn with the Zipf activity weights of
:mod:`simulators.world`) and walks a scripted funnel with drop-off. The conversion numbers,
per session:

===========================================  =======
step                                         chance
===========================================  =======
session views at least one product (1-6)     75 %
... adds to cart, given a product view       30 %
... starts checkout, given a cart            60 %
... purchases, given a checkout              70 %
searches (before browsing)                   35 %
logs in at the start / signs up              20 % / 1 %
removes a line from a cart of two lines      15 %
logs out at the end                          5 %
===========================================  =======

So about 22.5 % of all sessions reach the cart, 13.5 % checkout and 9.5 % buy. Mobile sessions
open with ``app_open``, move between ``screen_view`` s and end with ``app_background``; web
sessions move between ``page_view`` s. Within a session, event times never go backwards,
except for the records the lateness model makes late on purpose.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dataplat_resources import topics
from simulators.base import BaseSource, Draft, SimMessage
from simulators.invalid import APP_EVENT_SPEC, COMMON_KINDS, corrupt
from simulators.sampling import Weighted
from simulators.timeutil import iso_us, uuid4_str
from simulators.world import User

P_BROWSE = 0.75
P_CART = 0.30
P_CHECKOUT = 0.60
P_PURCHASE = 0.70
P_SEARCH = 0.35
P_LOGIN = 0.20
P_SIGNUP = 0.01
P_REMOVE = 0.15
P_LOGOUT = 0.05
CONCURRENT_SESSIONS = 24
SESSION_DELAY_US = (20_000, 1_500_000)
QUANTITIES = (1, 2, 3)
QUANTITY_WEIGHTS = (0.75, 0.18, 0.07)
_QUANTITY = Weighted(QUANTITIES, QUANTITY_WEIGHTS)
MOBILE_SCREENS = ("categories", "deals", "profile", "settings", "wishlist", "notifications")
WEB_PAGES = ("/deals", "/account", "/help/shipping", "/wishlist", "/stores")


class _Session:
    __slots__ = ("delay_us", "events", "last_us", "session_id", "user")

    def __init__(self, user: User, session_id: str, events: list[tuple[str, dict[str, Any]]], delay_us: int) -> None:
        self.user = user
        self.session_id = session_id
        self.events = events  # reversed: pop() gives the next event
        self.delay_us = delay_us
        self.last_us = 0


class _AppSource(BaseSource):
    """Shared session machinery of the two app sources."""

    topic: ClassVar[str] = topics.APP_EVENTS
    invalid_kinds: ClassVar[tuple[str, ...]] = COMMON_KINDS
    population: ClassVar[str]

    def __init__(self, *, concurrency: int = CONCURRENT_SESSIONS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._slots: list[_Session | None] = [None] * concurrency

    # -- session scripts ----------------------------------------------------------------

    def _script(self, user: User) -> list[tuple[str, dict[str, Any]]]:
        raise NotImplementedError

    def _product_props(self, user: User) -> tuple[dict[str, Any], float]:
        product = self.world.pick_product(self.rng)
        price = round(product.usd_price * user.fx, 2)
        return {
            "product_id": product.product_id,
            "category": product.category,
            "price": price,
            "currency": user.currency,
        }, price

    def _funnel(
        self, user: User, view: tuple[str, dict[str, Any]] | None, checkout_view: tuple[str, dict[str, Any]]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Product views and the cart/checkout/purchase steps with their drop-off."""
        rng = self.rng
        events: list[tuple[str, dict[str, Any]]] = []
        viewed: list[tuple[dict[str, Any], float]] = []
        for _ in range(rng.randint(1, 6)):
            props, price = self._product_props(user)
            if view is not None:
                events.append(
                    view if view[0] == "screen_view" else ("page_view", {"page": f"/p/{props['product_id']}"})
                )
            events.append(("product_view", props))
            viewed.append((props, price))
        if rng.random() >= P_CART:
            return events
        lines = [viewed[-1]]
        if len(viewed) > 1 and rng.random() < 0.3:
            lines.append(viewed[0])
        cart: list[tuple[dict[str, Any], float, int]] = []
        for props, price in lines:
            quantity = _QUANTITY.pick(rng)
            events.append(("add_to_cart", {**props, "quantity": quantity}))
            cart.append((props, price, quantity))
        if len(cart) > 1 and rng.random() < P_REMOVE:
            props, _, quantity = cart.pop()
            events.append(("remove_from_cart", {**props, "quantity": quantity}))
        if rng.random() >= P_CHECKOUT:
            return events
        items = sum(q for _, _, q in cart)
        revenue = round(sum(p * q for _, p, q in cart), 2) or 0.01
        events.append(checkout_view)
        events.append(("checkout_start", {"quantity": items, "currency": user.currency}))
        if rng.random() < P_PURCHASE:
            order_id = f"o_{self.rng.getrandbits(64):016x}"
            events.append(
                ("purchase", {"order_id": order_id, "revenue": revenue, "currency": user.currency, "quantity": items})
            )
        return events

    def _new_session(self) -> _Session:
        user = self.world.pick_user(self.rng, self.population)
        events = self._script(user)
        events.reverse()
        return _Session(user, uuid4_str(self.rng), events, self.time_rng.randint(*SESSION_DELAY_US))

    # -- records ------------------------------------------------------------------------

    def _drafts(self) -> tuple[list[Draft], float]:
        slots = self._slots
        index = self.rng.randrange(len(slots))
        session = slots[index]
        if session is None or not session.events:
            session = slots[index] = self._new_session()
        event_type, props = session.events.pop()
        produce = self.clock.now_us()
        event_us, late = self._session_event_us(produce, session)
        user = session.user
        payload = {
            "event_id": uuid4_str(self.rng),
            "event_type": event_type,
            "event_time": iso_us(event_us),
            "user_id": user.user_id,
            "session_id": session.session_id,
            "source": self.name,
            "platform": user.platform,
            "device": user.device,
            "geo": user.geo,
            "properties": props,
        }
        return [Draft(user.user_id.encode(), payload, produce, late)], 1.0

    def _corrupt(self, draft: Draft, kind: str) -> SimMessage:
        return self.invalid_message(
            draft, kind, corrupt(draft.payload, kind, APP_EVENT_SPEC, self.fault_rng, draft.produce_us)
        )


class MobileAppSource(_AppSource):
    """iOS and Android app sessions: app_open, screen views, funnel, app_background."""

    name: ClassVar[str] = "mobile_app"
    population: ClassVar[str] = "mobile"

    def _script(self, user: User) -> list[tuple[str, dict[str, Any]]]:
        rng = self.rng
        events: list[tuple[str, dict[str, Any]]] = [("app_open", {})]
        if rng.random() < P_LOGIN:
            events.append(("login", {}))
        elif rng.random() < P_SIGNUP:
            events.append(("signup", {}))
        events.append(("screen_view", {"screen": "home"}))
        if rng.random() < P_SEARCH:
            events.append(("search", {"search_query": rng.choice(self.world.search_terms)}))
            events.append(("screen_view", {"screen": "search_results"}))
        if rng.random() < P_BROWSE:
            events.extend(
                self._funnel(
                    user, ("screen_view", {"screen": "product_detail"}), ("screen_view", {"screen": "checkout"})
                )
            )
        else:
            events.extend(("screen_view", {"screen": rng.choice(MOBILE_SCREENS)}) for _ in range(rng.randint(1, 4)))
        if rng.random() < P_LOGOUT:
            events.append(("logout", {}))
        events.append(("app_background", {"duration_ms": len(events) * rng.randint(4_000, 30_000)}))
        return events


class WebSource(_AppSource):
    """Website sessions: page views, searches and the same funnel."""

    name: ClassVar[str] = "web"
    population: ClassVar[str] = "web"

    def _script(self, user: User) -> list[tuple[str, dict[str, Any]]]:
        rng = self.rng
        events: list[tuple[str, dict[str, Any]]] = [("page_view", {"page": "/"})]
        if rng.random() < P_LOGIN:
            events.append(("page_view", {"page": "/account/login"}))
            events.append(("login", {}))
        elif rng.random() < P_SIGNUP:
            events.append(("page_view", {"page": "/account/signup"}))
            events.append(("signup", {}))
        if rng.random() < P_SEARCH:
            query = rng.choice(self.world.search_terms)
            events.append(("search", {"search_query": query}))
            events.append(("page_view", {"page": f"/search?q={query.replace(' ', '+')}"}))
        if rng.random() < P_BROWSE:
            events.extend(self._funnel(user, ("page_view", {}), ("page_view", {"page": "/checkout"})))
        else:
            events.extend(("page_view", {"page": rng.choice(WEB_PAGES)}) for _ in range(rng.randint(1, 4)))
        if rng.random() < P_LOGOUT:
            events.append(("logout", {}))
        return events
