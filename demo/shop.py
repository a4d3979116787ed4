"""The demo shop: 14 services (an online-boutique-like store), what each runs on, its operations and their normal
latency, the lines it logs, its resources, and the call graph of the five kinds of page the frontend serves.

Calls run in stages: the stages of a call one after the other, the calls of one stage in parallel. Every call
has the caller's deadline for it, and says whether its failure fails the caller (else the caller degrades).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Op:
    span: str  # the span name: HTTP route, gRPC method or database statement
    median_ms: float  # the service's own work per call, median
    sigma: float = 0.35  # log-normal spread of the own work
    logs: tuple[str, ...] = ()  # INFO lines, one drawn per logged call
    primary: bool = False  # served by the first pod only (writes to a primary database)


@dataclass(frozen=True)
class Pool:
    datastore: str  # the service the pooled connections go to
    size: int
    acquire_timeout_ms: int
    timeout_log: str  # what the client library says when it gives up waiting for a connection
    leak_log: str = ""  # what it says when it notices a connection held too long ("" if it cannot tell)


@dataclass(frozen=True)
class Periodic:
    every_s: float
    lines: tuple[tuple[str, str], ...]  # (severity, template), written together


@dataclass(frozen=True)
class Service:
    name: str
    runtime: str  # go | java | node | python | csharp | postgres | redis
    replicas: int
    ops: Mapping[str, Op]
    info_rate: float = 0.1  # share of calls that write an INFO line
    warn: tuple[str, ...] = ()  # rare WARNING lines of normal operation
    background: tuple[Periodic, ...] = ()
    pool: Pool | None = None
    cpu_base: float = 6.0  # % of the CPU limit at idle
    cpu_per_call: float = 0.25  # % per call per minute
    memory_mb: float = 120.0
    slow_ms: float = 0.0  # added median latency when this datastore slows down (slow_dependency)
    crash: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # values for texts.CRASH
    app: str = ""

    @property
    def datastore(self) -> bool:
        return self.runtime in ("postgres", "redis")


@dataclass(frozen=True)
class Call:
    service: str
    op: str
    stages: tuple[tuple[Call, ...], ...] = ()
    timeout_ms: int = 1000
    critical: bool = True
    repeat: tuple[int, int] = (1, 1)  # how many times the caller makes this call, one after the other
    purpose: str = ""  # how the caller names the call in its error lines


def call(service: str, op: str, *stages: Call | tuple[Call, ...], timeout: int = 1000, critical: bool = True,
         repeat: tuple[int, int] = (1, 1), purpose: str = "") -> Call:
    staged = tuple(s if isinstance(s, tuple) else (s,) for s in stages)
    return Call(service, op, staged, timeout, critical, repeat, purpose or f"call {service}")


@dataclass(frozen=True)
class Route:
    call: Call
    weight: float
    path: str  # the concrete path; {pid} is a product id


def _ops(*ops: tuple[str, Op]) -> Mapping[str, Op]:
    return MappingProxyType(dict(ops))


_SQL_STOCK = "SELECT available FROM stock WHERE sku = $1"
_SQL_RESERVE = "UPDATE stock SET available = available - $1 WHERE sku = $2 AND available >= $1"
_SQL_ORDER = "INSERT INTO orders (id, user_id, total_units, currency, created_at) VALUES ($1, $2, $3, $4, now())"
REPORT_SQL = ("SELECT date_trunc('hour', created_at) AS h, count(*), sum(total_units) FROM orders "
              "WHERE created_at > now() - interval '24 hours' GROUP BY 1")

_SERVICES = [
    Service("frontend", "go", 3, _ops(
        ("home", Op("GET /", 3.0)), ("product", Op("GET /product/{id}", 3.5)), ("view_cart", Op("GET /cart", 3.0)),
        ("add_to_cart", Op("POST /cart", 2.5)), ("checkout", Op("POST /cart/checkout", 4.0))),
        info_rate=1.0, cpu_base=5, cpu_per_call=0.3, memory_mb=60,
        background=(Periodic(300, (("INFO", "refreshed supported currencies: {n} entries"),)),),
        crash={"type": "frontendServer", "file": "handlers", "line": "214"}),
    Service("auth", "go", 2, _ops(("validate", Op("shop.AuthService/ValidateToken", 1.1, logs=(
        "token verified sub={uid} scope=shop:read kid=2026-01 exp_in={n}m",)))),
        info_rate=0.03, warn=("token for sub={uid} expires in {n}s, client should refresh",),
        cpu_base=4, cpu_per_call=0.12, memory_mb=40,
        crash={"type": "authServer", "file": "token", "line": "77"}),
    Service("product-catalog", "go", 3, _ops(
        ("get", Op("shop.ProductCatalogService/GetProduct", 1.4, logs=("served product {pid} ({pname})",))),
        ("list", Op("shop.ProductCatalogService/ListProducts", 2.4, logs=("listed {n} products",)))),
        info_rate=0.06, cpu_base=5, cpu_per_call=0.2, memory_mb=55,
        background=(Periodic(600, (("INFO", "catalog reloaded from gs://demo-shop-catalog/products.json: 9 products "
                                            "in {ms}ms"),)),),
        crash={"type": "productCatalog", "file": "product_catalog", "line": "141"}),
    Service("currency", "node", 2, _ops(
        ("convert", Op("shop.CurrencyService/Convert", 0.9, logs=(
            "conversion request successful: {amount} {cur} -> {cur2}",)))),
        info_rate=0.05, cpu_base=6, cpu_per_call=0.1, memory_mb=95,
        background=(Periodic(900, (("INFO", "refreshed ECB reference rates: 33 currencies in {ms}ms"),)),),
        crash={"opl": "convert", "file": "server", "line": "142", "col": "37"}),
    Service("cart", "csharp", 2, _ops(
        ("get", Op("shop.CartService/GetCart", 1.2, logs=("GetCartAsync called with userId={uid}",))),
        ("add", Op("shop.CartService/AddItem", 1.5, logs=(
            "AddItemAsync called with userId={uid}, productId={pid}, quantity={qty}",))),
        ("empty", Op("shop.CartService/EmptyCart", 1.2, logs=("EmptyCartAsync called with userId={uid}",)))),
        info_rate=0.06, cpu_base=7, cpu_per_call=0.15, memory_mb=210,
        pool=Pool("redis-cart", 20, 400, "Timeout waiting for connection from pool: redis connection pool exhausted "
                  "(size={size}, in use={size}, waiters={waiting}, waited={waited}ms)"),
        crash={"type": "cartstore.RedisCartStore", "file": "cartstore/RedisCartStore", "line": "119"}),
    Service("redis-cart", "redis", 2, _ops(
        ("hgetall", Op("HGETALL", 0.25)), ("hset", Op("HSET", 0.3, primary=True)),
        ("del", Op("DEL", 0.25, primary=True))),
        info_rate=0.0, cpu_base=3, cpu_per_call=0.05, memory_mb=110, slow_ms=120,
        background=(Periodic(300, (
            ("INFO", "1:M {rts} * {changes} changes in 300 seconds. Saving..."),
            ("INFO", "1:M {rts} * Background saving started by pid {child}"),
            ("INFO", "{child}:C {rts} * DB saved on disk"),
            ("INFO", "1:M {rts} * Background saving terminated with success"))),)),
    Service("checkout", "go", 2, _ops(("place", Op("shop.CheckoutService/PlaceOrder", 4.5, logs=(
        "[PlaceOrder] user_id=\"{uid}\" user_currency=\"{cur}\"", "payment went through (transaction_id: {txid})",
        "order confirmation email sent to \"{email}\"")))),
        info_rate=0.5, cpu_base=4, cpu_per_call=0.5, memory_mb=50,
        pool=Pool("postgres-orders", 10, 2000, "failed to acquire connection: timeout waiting for connection from "
                  "pool (pool=orders max_conns={size} acquired={size} waiters={waiting} waited={waited}ms)"),
        crash={"type": "checkoutService", "file": "main", "line": "262"}),
    Service("payment", "node", 2, _ops(("charge", Op("shop.PaymentService/Charge", 16.0, 0.45, logs=(
        "Transaction processed: {card} ending {last4} Amount: {cur}{amount}",)))),
        info_rate=0.6, warn=("card network slow for {card} ending {last4}: {ms}ms",),
        cpu_base=5, cpu_per_call=0.4, memory_mb=110,
        crash={"opl": "charge", "file": "charge", "line": "58", "col": "41"}),
    Service("shipping", "go", 2, _ops(
        ("quote", Op("shop.ShippingService/GetQuote", 1.3, logs=("[GetQuote] completed request",))),
        ("ship", Op("shop.ShippingService/ShipOrder", 2.6, logs=("[ShipOrder] shipment created, tracking id {tracking}",
                                                                 )))),
        info_rate=0.1, cpu_base=3, cpu_per_call=0.1, memory_mb=35,
        crash={"type": "shippingServer", "file": "quote", "line": "53"}),
    Service("recommendation", "python", 2, _ops(("list", Op("shop.RecommendationService/ListRecommendations", 7.0,
                                                             logs=("[Recv ListRecommendations] product_ids={pids}",)))),
        info_rate=0.1, cpu_base=9, cpu_per_call=0.35, memory_mb=190,
        background=(Periodic(600, (("INFO", "reloaded ranking model snapshot v{version} in {ms}ms"),)),),
        crash={"file": "recommendation_server", "line": "96"}),
    Service("ad", "java", 2, _ops(("get", Op("shop.AdService/GetAds", 2.2, logs=(
        "received ad request (context_words=[{kw}])",)))),
        info_rate=0.08, cpu_base=6, cpu_per_call=0.15, memory_mb=420, app="AdService",
        background=(Periodic(600, (("INFO", "ad inventory refreshed: {n} ads in 6 categories"),)),),
        crash={"type": "AdService", "pkg": "ads", "opl": "getAds", "line": "142"}),
    Service("email", "python", 2, _ops(("send", Op("shop.EmailService/SendOrderConfirmation", 22.0, 0.5, logs=(
        "A request to send order confirmation email to {email} has been received.",
        "Order confirmation email sent to {email} (message id {msgid})")))),
        info_rate=0.6, warn=("SMTP relay responded slowly ({ms}00ms), retrying once",),
        cpu_base=4, cpu_per_call=0.4, memory_mb=150,
        crash={"file": "email_server", "line": "73"}),
    Service("inventory", "java", 2, _ops(
        ("stock", Op("shop.InventoryService/GetStock", 1.6, logs=("stock lookup sku={pid} available={n}",))),
        ("reserve", Op("shop.InventoryService/ReserveStock", 2.2, logs=(
            "reserved {qty} units of {pid} for order {oid}",)))),
        info_rate=0.04, warn=("stock low for {pid}: {n} units left",),
        cpu_base=8, cpu_per_call=0.12, memory_mb=640, app="InventoryApplication",
        pool=Pool("postgres-orders", 15, 800, "HikariPool-1 - Connection is not available, request timed out after "
                  "{waited}ms (total={size}, active={size}, idle=0, waiting={waiting})",
                  "Connection leak detection triggered for org.postgresql.jdbc.PgConnection@{hex} on thread "
                  "grpc-default-executor-{thread}, stack trace follows\njava.lang.Exception: Apparent connection leak "
                  "detected\n\tat shop.inventory.StockRepository.reserve(StockRepository.java:88)"),
        crash={"type": "InventoryService", "pkg": "inventory", "opl": "getStock", "line": "57"}),
    Service("postgres-orders", "postgres", 2, _ops(
        ("select_stock", Op("SELECT stock", 0.9)),
        ("update_stock", Op("UPDATE stock", 1.8, primary=True)),
        ("insert_order", Op("INSERT orders", 2.4, primary=True))),
        info_rate=0.0, cpu_base=10, cpu_per_call=0.06, memory_mb=880, slow_ms=210,
        background=(
            Periodic(300, (("INFO", "checkpoint starting: time"),
                           ("INFO", "checkpoint complete: wrote {buffers} buffers ({pct}%); 0 WAL file(s) added, "
                                    "0 removed, 1 recycled; write={secs} s, sync={sync} s"))),
            Periodic(720, (("INFO", "duration: {report_ms} ms  statement: " + REPORT_SQL),)),
        )),
]

SERVICES: Mapping[str, Service] = MappingProxyType({s.name: s for s in _SERVICES})
STATEMENTS = MappingProxyType({"select_stock": _SQL_STOCK, "update_stock": _SQL_RESERVE, "insert_order": _SQL_ORDER,
                               "hgetall": "HGETALL", "hset": "HSET", "del": "DEL"})
SLOW_STATEMENT_MS = 250  # postgres log_min_duration_statement

_auth = call("auth", "validate", timeout=500, purpose="validate session token")
_catalog_get = call("product-catalog", "get", call(
    "inventory", "stock", call("postgres-orders", "select_stock", timeout=600, purpose="query stock"),
    timeout=1000, purpose="get stock"), timeout=1500, purpose="retrieve product")
_convert = call("currency", "convert", timeout=500, purpose="convert currency")
_get_cart = call("cart", "get", call("redis-cart", "hgetall", timeout=300, purpose="read cart"),
                 timeout=1000, purpose="retrieve cart")
_ads = call("ad", "get", timeout=500, critical=False, purpose="retrieve ads")
_recommend = call("recommendation", "list", call("product-catalog", "list", timeout=1000, purpose="list products"),
                  timeout=1500, purpose="get recommendations")
_quote = call("shipping", "quote", timeout=1000, purpose="get shipping quote")

_place_order = call(
    "checkout", "place",
    _get_cart,
    call("product-catalog", "get", call("inventory", "stock", call(
        "postgres-orders", "select_stock", timeout=600, purpose="query stock"), timeout=1000, purpose="get stock"),
        timeout=1000, repeat=(1, 3), purpose="prepare order items"),
    _convert,
    (_quote, call("inventory", "reserve", call("postgres-orders", "update_stock", timeout=600,
                                               purpose="update stock"), timeout=1500, purpose="reserve stock")),
    call("payment", "charge", timeout=3000, purpose="charge card"),
    call("shipping", "ship", timeout=1000, purpose="ship order"),
    call("postgres-orders", "insert_order", timeout=1000, purpose="insert order"),
    (call("email", "send", timeout=2000, critical=False, purpose="send order confirmation"),
     call("cart", "empty", call("redis-cart", "del", timeout=300, purpose="delete cart"), timeout=1000,
          critical=False, purpose="empty cart")),
    timeout=8000, purpose="complete order")

ROUTES: tuple[Route, ...] = (
    Route(call("frontend", "home", _auth, (call("product-catalog", "list", timeout=1500, purpose="retrieve products"),
                                          _get_cart),
               (_convert, _ads)), 0.25, "/"),
    Route(call("frontend", "product", _auth, (_catalog_get, _get_cart), (_convert, _recommend, _ads)),
          0.35, "/product/{pid}"),
    Route(call("frontend", "view_cart", _auth, _get_cart, (_quote, _convert, _recommend)),
          0.15, "/cart"),
    Route(call("frontend", "add_to_cart", _auth, _catalog_get, call(
        "cart", "add", call("redis-cart", "hset", timeout=300, purpose="write cart"), timeout=1000,
        purpose="add to cart")), 0.13, "/cart"),
    Route(call("frontend", "checkout", _auth, _place_order), 0.12, "/cart/checkout"),
)
ROUTE_DEADLINE_S = 10.0  # the frontend's own deadline for a page

# Where each fault kind can plausibly strike (never the frontend); the seed picks one.
CANDIDATES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "bad_deploy": ("checkout", "payment", "product-catalog", "cart", "shipping", "currency", "recommendation",
                   "inventory"),
    "cpu_saturation": ("product-catalog", "recommendation", "currency", "cart", "auth"),
    "slow_dependency": tuple(s.name for s in _SERVICES if s.slow_ms > 0),
    "pool_exhaustion": tuple(s.name for s in _SERVICES if s.pool is not None),
})
