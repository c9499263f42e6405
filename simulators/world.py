"""The simulated world: users, products, cities, places, tickers and search terms.

Faker is used only here, once, to fill pools (names, email domains, company names, words);
the generators then sample from these pools with their own seeded ``random.Random``. A
Faker call costs tens of microseconds, so per-event Faker calls would cap a simulator at a
few thousand events per second.

Activity is skewed like real traffic: each user gets a Zipf weight (``1 / rank ** 0.8``,
ranks shuffled so heavy users are not just the low ids). With 5,000 users the top 20 % of
users produce about two thirds of all sessions. Products get the same kind of popularity
curve (exponent 1.0).
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from faker import Faker
from faker.providers.geo import Provider as GeoProvider

from simulators.sampling import Weighted

USER_ZIPF_EXPONENT = 0.8
PRODUCT_ZIPF_EXPONENT = 1.0
DEFAULT_USERS = 5_000
DEFAULT_PRODUCTS = 600
SHOP_URL = "https://shop.dataplat.dev"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")

# country: (share of users, Faker locale, currency, units of currency per USD)
COUNTRIES: dict[str, tuple[float, str, str, float]] = {
    "US": (30, "en_US", "USD", 1.0),
    "IN": (10, "en_IN", "INR", 83.0),
    "GB": (8, "en_GB", "GBP", 0.79),
    "DE": (8, "de_DE", "EUR", 0.92),
    "BR": (6, "pt_BR", "BRL", 5.0),
    "FR": (6, "fr_FR", "EUR", 0.92),
    "JP": (4, "ja_JP", "JPY", 150.0),
    "CA": (4, "en_CA", "CAD", 1.36),
    "ES": (4, "es_ES", "EUR", 0.92),
    "IT": (4, "it_IT", "EUR", 0.92),
    "MX": (3, "es_MX", "MXN", 17.0),
    "AU": (3, "en_AU", "AUD", 1.5),
    "NL": (3, "nl_NL", "EUR", 0.92),
    "PL": (2, "pl_PL", "PLN", 4.0),
    "TR": (2, "tr_TR", "TRY", 32.0),
    "CZ": (1, "cs_CZ", "CZK", 23.0),
}
# (platform, share of users)
PLATFORM_SHARES = (("ios", 0.33), ("android", 0.30), ("web", 0.37))
CATEGORIES: dict[str, tuple[float, float]] = {  # category: (median USD price, spread)
    "electronics": (180.0, 1.0),
    "books": (18.0, 0.5),
    "fashion": (45.0, 0.7),
    "home": (60.0, 0.8),
    "sports": (55.0, 0.8),
    "beauty": (25.0, 0.6),
    "toys": (30.0, 0.6),
    "grocery": (8.0, 0.5),
    "garden": (40.0, 0.8),
    "automotive": (70.0, 0.9),
}
IOS_MODELS = (
    "iPhone 13",
    "iPhone 14",
    "iPhone 15",
    "iPhone 15 Pro",
    "iPhone 16",
    "iPhone 16 Pro Max",
    "iPhone SE",
    "iPad Air",
)
IOS_VERSIONS = ("17.6.1", "18.1", "18.3.2", "18.6", "26.0", "26.1")
ANDROID_MODELS = (
    "Pixel 8",
    "Pixel 9 Pro",
    "Galaxy S24",
    "Galaxy S25",
    "Galaxy A55",
    "Redmi Note 13",
    "OnePlus 12",
    "Moto G84",
)
ANDROID_VERSIONS = ("13", "14", "15", "16")
APP_VERSIONS = ("5.8.2", "5.9.0", "5.9.1", "6.0.0", "6.1.0")
APP_VERSION_WEIGHTS = (0.05, 0.10, 0.15, 0.30, 0.40)
# Web: (os, os versions, browsers, models, share)
WEB_SYSTEMS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], float], ...] = (
    ("windows", ("10", "11"), ("chrome", "edge", "firefox", "other"), ("Desktop", "Laptop"), 0.45),
    ("macos", ("14.7", "15.2", "26.0"), ("safari", "chrome", "firefox"), ("MacBook Air", "MacBook Pro", "iMac"), 0.25),
    ("linux", ("6.8", "6.11"), ("firefox", "chrome"), ("Desktop", "Laptop"), 0.05),
    ("chromeos", ("128", "131"), ("chrome",), ("Chromebook",), 0.05),
    ("ios", IOS_VERSIONS, ("safari", "chrome"), ("iPhone", "iPad"), 0.12),
    ("android", ANDROID_VERSIONS, ("chrome", "other"), ("Android phone",), 0.08),
)
DESKTOP_VIEWPORTS = ((1920, 1080), (1536, 864), (1440, 900), (1366, 768), (2560, 1440))
MOBILE_VIEWPORTS = ((390, 844), (393, 852), (412, 915), (360, 800), (820, 1180))
TICKERS: tuple[tuple[str, str, str, float], ...] = (  # symbol, exchange, currency, start price
    ("AAPL", "NASDAQ", "USD", 230.0),
    ("MSFT", "NASDAQ", "USD", 420.0),
    ("AMZN", "NASDAQ", "USD", 200.0),
    ("GOOGL", "NASDAQ", "USD", 175.0),
    ("META", "NASDAQ", "USD", 580.0),
    ("NVDA", "NASDAQ", "USD", 140.0),
    ("TSLA", "NASDAQ", "USD", 330.0),
    ("SHOP", "NYSE", "USD", 110.0),
    ("WMT", "NYSE", "USD", 90.0),
    ("TGT", "NYSE", "USD", 130.0),
    ("COST", "NASDAQ", "USD", 900.0),
    ("EBAY", "NASDAQ", "USD", 62.0),
    ("NKE", "NYSE", "USD", 78.0),
    ("BRK.B", "NYSE", "USD", 470.0),
    ("SAP", "XETRA", "EUR", 225.0),
    ("SIE", "XETRA", "EUR", 185.0),
    ("ADS", "XETRA", "EUR", 230.0),
    ("ZAL", "XETRA", "EUR", 32.0),
    ("MC", "EPA", "EUR", 640.0),
    ("OR", "EPA", "EUR", 340.0),
    ("ASML", "AMS", "EUR", 650.0),
    ("ITX", "BME", "EUR", 52.0),
    ("ULVR", "LSE", "GBP", 46.0),
    ("TSCO", "LSE", "GBP", 3.6),
    ("BP.", "LSE", "GBP", 4.0),
    ("SONY", "TSE", "JPY", 3200.0),
    ("TM", "TSE", "JPY", 2700.0),
    ("RELIANCE", "NSE", "INR", 1300.0),
    ("TCS", "NSE", "INR", 4100.0),
    ("MELI", "NASDAQ", "USD", 2000.0),
)
SOCIAL_TAGS = (
    "blackfriday",
    "cybermonday",
    "unboxing",
    "haul",
    "giftideas",
    "sale",
    "ootd",
    "techreview",
    "homedecor",
    "fitness",
)
PLACE_CATEGORIES = ("store", "warehouse", "pickup_point", "restaurant", "transit")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def zipf_ranks(n: int, rng: random.Random) -> list[int]:
    """A random popularity rank (1 = most active) per item; weights are ``1 / rank ** exponent``."""
    ranks = list(range(1, n + 1))
    rng.shuffle(ranks)
    return ranks


@dataclass(frozen=True, slots=True)
class City:
    name: str
    country: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class User:
    """A person with a stable home, device and habits. ``device``/``geo`` are ready-made event
    sub-objects shared by every event of the user (never mutate them)."""

    id: int
    user_id: str
    full_name: str
    email: str
    country: str
    currency: str
    fx: float
    city: City
    platform: str  # ios | android | web
    tier: str
    device: dict[str, Any]
    geo: dict[str, Any]
    viewport: dict[str, int]
    activity_rank: int


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    category: str
    usd_price: float
    popularity_rank: int


@dataclass(frozen=True, slots=True)
class Place:
    place_id: str
    name: str
    category: str
    city: City
    lat: float
    lon: float


@dataclass
class World:
    """Every pool the generators draw from. Build with :func:`build_world` (cached per seed)."""

    seed: int
    users: list[User]
    products: list[Product]
    cities: list[City]
    places: list[Place]
    search_terms: list[str]
    social_topics: list[str]
    first_names: dict[str, list[str]]
    last_names: dict[str, list[str]]
    email_domains: list[str]
    platform_users: dict[str, list[User]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_platform: dict[str, list[User]] = {"mobile": [], "web": []}
        for user in self.users:
            by_platform["web" if user.platform == "web" else "mobile"].append(user)
        self.platform_users = by_platform
        self._user_dists = {
            name: Weighted(group, [1.0 / u.activity_rank**USER_ZIPF_EXPONENT for u in group])
            for name, group in by_platform.items()
        }
        self._product_dist = Weighted(
            self.products, [1.0 / p.popularity_rank**PRODUCT_ZIPF_EXPONENT for p in self.products]
        )

    def pick_user(self, rng: random.Random, kind: str) -> User:
        """A user of the ``mobile`` or ``web`` population, heavy users more often."""
        return self._user_dists[kind].pick(rng)

    def pick_product(self, rng: random.Random) -> Product:
        return self._product_dist.pick(rng)

    def new_person(self, rng: random.Random, row_id: int) -> tuple[str, str, str]:
        """(full name, email, country) for a signup beyond the simulated population."""
        country = rng.choices(_COUNTRY_CODES, weights=_COUNTRY_WEIGHTS)[0]
        first = rng.choice(self.first_names[country])
        last = rng.choice(self.last_names[country])
        return f"{first} {last}", _email(first, last, row_id, rng.choice(self.email_domains)), country


_COUNTRY_CODES = tuple(COUNTRIES)
_COUNTRY_WEIGHTS = tuple(v[0] for v in COUNTRIES.values())


def _email(first: str, last: str, row_id: int, domain: str) -> str:
    local = ".".join(p for p in (_ascii(first), _ascii(last)) if p) or "user"
    email = f"{local}{row_id}@{domain}"
    return email if EMAIL_RE.match(email) else f"user{row_id}@example.com"


def _device(rng: random.Random, platform: str) -> tuple[dict[str, Any], dict[str, int]]:
    if platform == "ios":
        model = rng.choice(IOS_MODELS)
        device = {"os": "ios", "os_version": rng.choice(IOS_VERSIONS), "model": model}
    elif platform == "android":
        device = {"os": "android", "os_version": rng.choice(ANDROID_VERSIONS), "model": rng.choice(ANDROID_MODELS)}
    else:
        os_name, versions, browsers, models, _ = rng.choices(WEB_SYSTEMS, weights=[s[4] for s in WEB_SYSTEMS])[0]
        device = {
            "os": os_name,
            "os_version": rng.choice(versions),
            "model": rng.choice(models),
            "browser": rng.choice(browsers),
        }
        width, height = rng.choice(MOBILE_VIEWPORTS if os_name in ("ios", "android") else DESKTOP_VIEWPORTS)
        return device, {"width": width, "height": height}
    device["app_version"] = rng.choices(APP_VERSIONS, weights=APP_VERSION_WEIGHTS)[0]
    width, height = rng.choice(MOBILE_VIEWPORTS)
    return device, {"width": width, "height": height}


@lru_cache(maxsize=8)
def build_world(seed: int, users: int = DEFAULT_USERS, products: int = DEFAULT_PRODUCTS) -> World:
    """Build (once per process and seed) the pools every generator samples from."""
    rng = random.Random(f"{seed}:world")
    first_names: dict[str, list[str]] = {}
    last_names: dict[str, list[str]] = {}
    domains: set[str] = set()
    for offset, (country, (_, locale, _, _)) in enumerate(COUNTRIES.items()):
        fake = Faker(locale)
        fake.seed_instance(seed * 1_000 + offset)
        first_names[country] = sorted({fake.first_name() for _ in range(150)})
        last_names[country] = sorted({fake.last_name() for _ in range(150)})
        domains.update(fake.free_email_domain() for _ in range(10))
    email_domains = sorted(d for d in domains if EMAIL_RE.match(f"x@{d}"))

    seen: set[str] = set()
    cities: list[City] = []
    for lat, lon, name, country, _tz in GeoProvider.land_coords:
        if country in COUNTRIES and name not in seen and "," not in name:
            seen.add(name)
            cities.append(City(name=name, country=country, lat=round(float(lat), 5), lon=round(float(lon), 5)))
    cities_by_country: dict[str, list[City]] = {}
    for city in cities:
        cities_by_country.setdefault(city.country, []).append(city)

    fake = Faker("en_US")
    fake.seed_instance(seed)
    words = sorted({w for w in (fake.word() for _ in range(1_500)) if w.isalpha() and len(w) > 3})
    nouns = {c: [c.rstrip("s")] for c in CATEGORIES}
    search_terms = sorted(
        {f"{rng.choice(words)} {rng.choice(nouns[rng.choice(list(CATEGORIES))])}" for _ in range(400)}
    )
    social_topics = sorted({f"#{tag}" for tag in SOCIAL_TAGS} | {f"#{w}" for w in rng.sample(words, 40)})
    companies = [fake.company() for _ in range(200)]

    ranks = zipf_ranks(users, rng)
    platform_names = [p for p, _ in PLATFORM_SHARES]
    platform_weights = [w for _, w in PLATFORM_SHARES]
    people: list[User] = []
    for index in range(users):
        row_id = index + 1
        country = rng.choices(_COUNTRY_CODES, weights=_COUNTRY_WEIGHTS)[0]
        _, _, currency, fx = COUNTRIES[country]
        city = rng.choice(cities_by_country[country])
        first, last = rng.choice(first_names[country]), rng.choice(last_names[country])
        platform = rng.choices(platform_names, weights=platform_weights)[0]
        device, viewport = _device(rng, platform)
        people.append(
            User(
                id=row_id,
                user_id=str(row_id),
                full_name=f"{first} {last}",
                email=_email(first, last, row_id, rng.choice(email_domains)),
                country=country,
                currency=currency,
                fx=fx,
                city=city,
                platform=platform,
                tier=rng.choices(("free", "plus", "premium"), weights=(0.75, 0.18, 0.07))[0],
                device=device,
                geo={"country": country, "city": city.name, "lat": city.lat, "lon": city.lon},
                viewport=viewport,
                activity_rank=ranks[index],
            )
        )

    product_ranks = zipf_ranks(products, rng)
    category_names = list(CATEGORIES)
    catalog = []
    for index in range(products):
        category = rng.choice(category_names)
        median, spread = CATEGORIES[category]
        price = min(2_000.0, max(1.0, round(rng.lognormvariate(0.0, spread) * median, 2)))
        catalog.append(Product(f"P{index + 1:06d}", category, price, product_ranks[index]))

    places = []
    for index in range(300):
        city = rng.choice(cities)
        places.append(
            Place(
                place_id=f"pl_{index + 1:05d}",
                name=f"{rng.choice(companies)} {city.name}"[:255],
                category=rng.choice(PLACE_CATEGORIES),
                city=city,
                lat=round(max(-90.0, min(90.0, city.lat + rng.uniform(-0.05, 0.05))), 5),
                lon=round(max(-180.0, min(180.0, city.lon + rng.uniform(-0.05, 0.05))), 5),
            )
        )
    return World(
        seed=seed,
        users=people,
        products=catalog,
        cities=cities,
        places=places,
        search_terms=search_terms,
        social_topics=social_topics,
        first_names=first_names,
        last_names=last_names,
        email_domains=email_domains,
    )
