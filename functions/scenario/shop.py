"""The demo shop: 14 services, their call graph, latencies, log lines and resources."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Call:
    """A call to `service.operation`, with the calls it makes in turn. `parallel` children run concurrently."""

    service: str
    operation: str
    children: tuple[Call, ...] = ()
    parallel: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    self_ms: float  # median own work per call
    instances: int = 2
    logs: tuple[str, ...] = ()  # INFO templates; fields in braces are drawn per line
    warn_logs: tuple[str, ...] = ()  # rare WARN lines that happen in normal operation
    pool_size: int = 0  # > 0: a DB connection pool
    base_cpu: float = 20.0
    memory_mb: float = 300.0
    tags: frozenset[str] = field(default_factory=frozenset)  # leaf | datastore | db_client | frontend


def _s(name: str, self_ms: float, logs: tuple[str, ...], warn: tuple[str, ...] = (), pool: int = 0,
       cpu: float = 20.0, mem: float = 300.0, tags: tuple[str, ...] = (), instances: int = 2) -> Service:
    return Service(name, self_ms, instances, logs, warn, pool, cpu, mem, frozenset(tags))


SERVICES: dict[str, Service] = {s.name: s for s in [
    _s("frontend", 4, ("{method} {path} {status} {ms}ms user={uid} ip={ip}",),
       ("slow request {path} took {ms}ms",), cpu=25, tags=("frontend",), instances=3),
    _s("auth", 2, ("token validated for user {uid} (expires in {n}s)",), ("token near expiry for user {uid}",)),
    _s("checkout", 6, ("PlaceOrder user_id={uid} items={n} total={amount} USD", "order {oid} placed for {uid}"),
       ("retrying inventory reservation for order {oid}",), pool=20, tags=("db_client",)),
    _s("cart", 3, ("GetCart user_id={uid} returned {n} items",), ("cart {uid} exceeded soft item limit",),
       pool=30, tags=("db_client",)),
    _s("payment", 8, ("charge accepted txn={txid} amount={amount} USD card=****{n4}",),
       ("card network latency {ms}ms for txn={txid}",)),
    _s("product-catalog", 5, ("ListProducts returned {n} products in {ms}ms",
                              "GetProduct id={pid} served from cache",), cpu=30),
    _s("currency", 1.5, ("converted {amount} USD to {cur}",), tags=("leaf",)),
    _s("shipping", 4, ("quote for {n} items to zip {zip}: {amount} USD",)),
    _s("recommendation", 7, ("ListRecommendations product={pid} results={n}",), cpu=35),
    _s("ad", 3, ("served {n} ads for context {kw}",), tags=("leaf",)),
    _s("email", 5, ("sent order confirmation for {oid} to {email}",), tags=("leaf",)),
    _s("inventory", 3, ("reserved {n} units of sku {sku}",), ("stock low for sku {sku}: {n} left",),
       pool=15, tags=("db_client",)),
    _s("orders-db", 3, ("duration: {ms} ms statement: INSERT INTO orders VALUES ($1, $2, $3)",
                        "checkpoint complete: wrote {n} buffers",), cpu=15, mem=900, tags=("leaf", "datastore")),
    _s("cart-redis", 0.8, ("accepted connection from {ip}:{port}",), cpu=10, mem=200,
       tags=("leaf", "datastore")),
]}

PRODUCT_PAGE = Call("frontend", "GET /product/{id}", (
    Call("auth", "ValidateToken"),
    Call("product-catalog", "GetProduct", (Call("inventory", "GetStock"),)),
    Call("currency", "Convert"),
    Call("recommendation", "ListRecommendations", (Call("product-catalog", "ListProducts"),)),
    Call("ad", "GetAds"),
), parallel=True)

CART_PAGE = Call("frontend", "GET /cart", (
    Call("auth", "ValidateToken"),
    Call("cart", "GetCart", (Call("cart-redis", "HGETALL"),)),
    Call("shipping", "GetQuote"),
    Call("currency", "Convert"),
))

CHECKOUT = Call("frontend", "POST /checkout", (
    Call("auth", "ValidateToken"),
    Call("checkout", "PlaceOrder", (
        Call("cart", "GetCart", (Call("cart-redis", "HGETALL"),)),
        Call("inventory", "Reserve", (Call("orders-db", "UPDATE stock"),)),
        Call("currency", "Convert"),
        Call("shipping", "ShipOrder"),
        Call("payment", "Charge"),
        Call("orders-db", "INSERT orders"),
        Call("email", "SendConfirmation"),
    )),
))

REQUESTS: tuple[tuple[Call, float], ...] = ((PRODUCT_PAGE, 0.6), (CART_PAGE, 0.25), (CHECKOUT, 0.15))

# Where each fault kind may strike (never the frontend): chosen by the seed.
CANDIDATES: dict[str, tuple[str, ...]] = {
    "bad_deploy": ("checkout", "payment", "product-catalog", "cart", "shipping", "recommendation"),
    "cpu_saturation": ("product-catalog", "recommendation", "checkout", "cart"),
    "slow_dependency": ("orders-db", "cart-redis", "currency", "inventory"),
    "pool_exhaustion": ("checkout", "cart", "inventory"),
}
