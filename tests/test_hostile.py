"""Hostile input: mutated Keepa JSON never crashes analysis or the pipeline; a bad config file
exits 2 naming the field and leaves the database untouched; a long run under 5% faults of
every kind ends with every product saved or recorded with a reason."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arbitrage_cli.analysis.deal import analyse, reference_time
from arbitrage_cli.analysis.offers import select_offer
from arbitrage_cli.cli import main
from arbitrage_cli.clock import FakeClock
from arbitrage_cli.keepa.budget import TokenBudget
from arbitrage_cli.keepa.client import KeepaClient
from arbitrage_cli.pipeline.backfill import BackfillOptions, backfill
from arbitrage_cli.pipeline.chunk import process_chunk
from arbitrage_cli.pipeline.listing import listed_deals
from arbitrage_cli.keepa.errors import KeepaError
from arbitrage_cli.simulator import Catalog, KeepaSimulator, start_simulator
from arbitrage_cli.simulator import listing as sim_listing
from arbitrage_cli.simulator.faults import KINDS, FaultPlan
from arbitrage_cli.store import open_db
from tests.conftest import SENTINEL_KEY, SIM_EPOCH
from tests.reliability import record
from tests.test_backfill import QUERY

HOSTILE = [None, "N/A", "-", "$12.34", "", [], {}, [-1], True, -1, -2**31, 2**63, 10**30,
           -10**12, 1.5e308, float("nan"), [[1, 2]], {"a": 1}]


def _sim():
    clock = FakeClock(SIM_EPOCH)
    cat = Catalog(seed=11, products=30, now=SIM_EPOCH)
    return KeepaSimulator(cat, clock=clock, refill_rate=100_000, tokens=10**7), cat


def _get(sim, endpoint, **params):
    return sim.handle("GET", f"/{endpoint}", {"key": SENTINEL_KEY, "domain": "1",
                                             **params}).payload


@pytest.fixture(scope="module")
def keepa():
    """Real Keepa-shaped answers from the simulator: products with offers, their sellers,
    a deal page."""
    sim, cat = _sim()
    resp = _get(sim, "product", asin=",".join(cat.asins[:12]), offers="20", stats="365",
                days="1095")
    sellers = sorted({o["sellerId"] for p in resp["products"] for o in p.get("offers") or []})
    seller_resp = _get(sim, "seller", seller=",".join(sellers[:20]))
    deal_resp = _get(sim, "deal", selection=json.dumps({**QUERY, "page": 0}))
    return {"products": resp["products"], "now": reference_time(resp),
            "sellers": list(seller_resp["sellers"].values()), "deal": deal_resp}


def paths(node, prefix=(), depth=0):
    """Every path into a JSON document, down to elements of its arrays (first few only)."""
    yield prefix
    if depth >= 4:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,), depth + 1)
    elif isinstance(node, list):
        for i, v in enumerate(node[:4]):
            yield from paths(v, prefix + (i,), depth + 1)


def mutate(doc, draw_ops):
    """Apply (path index, operation, value) triples: drop a key, set a wrong type or an
    extreme number, empty an array, make times negative."""
    doc = copy.deepcopy(doc)
    for pick, op, value in draw_ops:
        all_paths = [p for p in paths(doc) if p]
        if not all_paths:
            break
        path = all_paths[pick % len(all_paths)]
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if op == "drop" and isinstance(parent, dict):
            del parent[last]
        elif op == "empty" and isinstance(parent[last], (list, dict)):
            parent[last] = type(parent[last])()
        elif op == "negate" and isinstance(parent[last], list):
            parent[last] = [-abs(x) if isinstance(x, int) and not isinstance(x, bool) else x
                            for x in parent[last]]
        else:
            parent[last] = copy.deepcopy(value)  # JSON has no shared objects (or cycles)
    return doc


OPS = st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["drop", "set", "empty",
                                                                  "negate"]),
                         st.sampled_from(HOSTILE)), min_size=1, max_size=6)
COUNTS = {"products": 0, "sellers": 0, "deal pages": 0, "pipeline chunks": 0}


def _assert_numbers_stay_numbers(row):
    for k, v in row.items():
        if k.endswith(("_cents", "_pct", "_keepa", "_count")) and v is not None:
            assert isinstance(v, (int, float)) and not isinstance(v, bool), (k, v)
            assert v == v, (k, v)  # no NaN


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(i=st.integers(0, 11), ops=OPS)
def test_mutated_products_never_crash_analysis(keepa, i, ops):
    product = mutate(keepa["products"][i], ops)
    choice = select_offer(product)
    result = analyse(product, keepa["sellers"][0], now=keepa["now"], offer=choice)
    assert result.row["status"] in ("deal", "skipped")
    assert result.row["status"] == "deal" or result.row["skip_reason"]
    _assert_numbers_stay_numbers(result.row)
    COUNTS["products"] += 1


@settings(max_examples=150, deadline=None)
@given(i=st.integers(0, 11), ops=OPS)
def test_mutated_sellers_never_crash_analysis(keepa, i, ops):
    seller = mutate(keepa["sellers"][i % len(keepa["sellers"])], ops)
    result = analyse(keepa["products"][i], seller, now=keepa["now"])
    assert result.row["status"] in ("deal", "skipped")
    q = result.row["seller_quality"]
    assert q is None or 0 <= q <= 1
    COUNTS["sellers"] += 1


@settings(max_examples=150, deadline=None)
@given(ops=OPS)
def test_mutated_deal_pages_list_only_valid_asins(keepa, ops):
    from arbitrage_cli.store import listing

    deals, count = listed_deals(mutate(keepa["deal"], ops))
    assert isinstance(count, int) and count >= len(deals)
    assert all(isinstance(d["asin"], str) and len(d["asin"]) == 10 for d in deals)
    assert all(d["creationDate"] is None or isinstance(d["creationDate"], int) for d in deals)
    db = open_db(":memory:")  # the evidence of a hostile page is stored as clean numbers
    assert listing.record(db, deals, 2, SIM_EPOCH, 8_000_000) == len({d["asin"] for d in deals})
    for row in db.query("select * from listing"):
        _assert_numbers_stay_numbers(row)
    COUNTS["deal pages"] += 1


class ReplayClient(KeepaClient):
    """The real client (its parameter validation included) with the network replaced:
    /product answers the (mutated) recorded Keepa JSON, /seller the recorded sellers, so the
    pipeline sees exactly the hostile payload."""

    def __init__(self, products, sellers: dict, now_ms):
        super().__init__(SENTINEL_KEY, base_url="http://replay.invalid")
        self.products, self.sellers, self.now_ms = products, sellers, now_ms
        self.seller_calls: list[str] = []

    def request(self, endpoint, params, **kw):
        if endpoint == "seller":
            self.seller_calls.append(params["seller"])
            return {"timestamp": self.now_ms, "sellers": self.sellers}
        return {"timestamp": self.now_ms, "tokensLeft": 100, "products": self.products}


@pytest.fixture(scope="module")
def chunk_db(tmp_path_factory):
    return open_db(str(tmp_path_factory.mktemp("h") / "d.db"))


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS, seller_ops=OPS)
def test_mutated_payloads_never_stop_the_pipeline(keepa, chunk_db, ops, seller_ops):
    resp = mutate({"products": keepa["products"][:4]}, ops)
    sellers = {s["sellerId"]: mutate(s, seller_ops) for s in keepa["sellers"]}
    asins = [p["asin"] for p in keepa["products"][:4]]
    db = chunk_db
    db.execute("delete from deals")
    db.execute("delete from sellers")
    client = ReplayClient(resp.get("products"), sellers, int(SIM_EPOCH * 1000))
    result = process_chunk(db, client, asins, clock=FakeClock(SIM_EPOCH), seller_ttl_s=0)
    got = {r["asin"]: r for r in db.query("select asin, status, skip_reason from deals")}
    assert set(got) == set(asins)  # every product saved or recorded with a reason
    assert all(r["status"] == "deal" or r["skip_reason"] for r in got.values())
    assert len(result.saved) + sum(result.skipped.values()) == len(asins)
    COUNTS["pipeline chunks"] += 1


def test_a_malformed_seller_id_from_keepa_skips_that_seller_not_the_run(keepa, chunk_db):
    """Keepa answers a winning offer with a seller id the client refuses to send (lowercase):
    the chunk still saves every product, asks /seller only for the good ids, and says why."""
    products = json.loads(json.dumps(keepa["products"][:4]))
    for p in products:
        for o in p.get("offers") or []:
            o["sellerId"] = o["sellerId"].lower()
    db = chunk_db
    db.execute("delete from deals")
    db.execute("delete from sellers")
    client = ReplayClient(products, {}, int(SIM_EPOCH * 1000))
    asins = [p["asin"] for p in products]
    result = process_chunk(db, client, asins, clock=FakeClock(SIM_EPOCH), seller_ttl_s=0)
    assert db["deals"].count == len(asins) and client.seller_calls == []
    assert result.bad_seller_ids and all(s.islower() for s in result.bad_seller_ids)


def test_record_hostile_counts():
    if any(COUNTS.values()):
        record("hostile input", "hypothesis mutations of Keepa JSON (drop keys, wrong types, "
               "huge/negative numbers, negative times, empty arrays)", sum(COUNTS.values()),
               "no crash; each bad product skipped with a reason; numbers stay numbers ("
               + ", ".join(f"{v} {k}" for k, v in COUNTS.items()) + ")")


BAD_QUERIES = [
    ("not json", "{", "line 1"),
    ("a list", "[]", "object"),
    ("unknown domain", json.dumps({**QUERY, "domainId": 99}), "domainId"),
    ("domain as text", json.dumps({"domainId": "US", "priceTypes": [2]}), "domainId"),
    ("unknown field", json.dumps({**QUERY, "priceTypez": [2]}), "priceTypez"),
    ("bad price type", json.dumps({**QUERY, "priceTypes": ["used"]}), "priceTypes"),
    ("huge page", json.dumps({**QUERY, "page": 10**9}), "page"),
]
BAD_SETTINGS = [
    ("not json", "{", "line 1"),
    ("unknown key", json.dumps({"prep_fe": 1}), "prep_fe"),
    ("negative fee", json.dumps({"prep_fee": -1}), "prep_fee"),
    ("text tax", json.dumps({"tax_pct": "five"}), "tax_pct"),
    ("tax over 100", json.dumps({"tax_pct": 101}), "tax_pct"),
]


def _dump(path):
    db = open_db(path)
    out = "\n".join(db.conn.iterdump())
    db.conn.close()
    return out


@pytest.mark.parametrize("kind,text,names", BAD_QUERIES + [("settings " + n, t, f)
                                                           for n, t, f in BAD_SETTINGS])
def test_bad_config_exits_2_naming_the_field_and_writes_nothing(tmp_path, capsys, kind, text,
                                                               names):
    db_path = str(tmp_path / "deals.db")
    open_db(db_path).conn.close()
    before = _dump(db_path)
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    if kind.startswith("settings"):
        args = ["--db", db_path, "settings", "import", str(bad)]
    else:
        args = ["--db", db_path, "--keepa-url", "http://127.0.0.1:9", "backfill", "--query",
                str(bad)]
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert str(bad) in err and names in err, err
    assert SENTINEL_KEY not in err
    assert _dump(db_path) == before


def test_record_config_cases():
    record("hostile input", "malformed keepa_query.json and settings files",
           len(BAD_QUERIES) + len(BAD_SETTINGS),
           "exit 2 naming the file and the field; database byte-for-byte unchanged")


@pytest.mark.parametrize("products,rate,screening", [
    pytest.param(60, 0.3, False, id="ci"),
    pytest.param(1500, 0.05, False, id="long", marks=pytest.mark.slow),
    pytest.param(1500, 0.05, True, id="long-funnel", marks=pytest.mark.slow)])
def test_long_run_under_faults_of_every_kind(tmp_path, products, rate, screening):
    clock = FakeClock(SIM_EPOCH)
    cat = Catalog(seed=11, products=products, now=SIM_EPOCH)
    sim_listing.build_all(cat)  # generated up front: the first listing answers in time
    plan = FaultPlan.parse(f"all={rate},timeout_s=0.6,slow_s=0.05", seed=products)
    # the seed step (live offers for every product) makes the most requests, so the most
    # faults land: 45 requests for 60 products, where the funnel makes 9; the long runs
    # do both, the funnel as backfill does by default
    options = BackfillOptions(screen=screening)
    sim = KeepaSimulator(cat, clock=clock, refill_rate=100_000, tokens=10**7, faults=plan)
    clean = KeepaSimulator(Catalog(seed=11, products=products, now=SIM_EPOCH), clock=clock,
                           refill_rate=100_000, tokens=10**7)
    db = open_db(str(tmp_path / "deals.db"))
    ref = open_db(str(tmp_path / "ref.db"))
    with start_simulator(clean) as server:
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(ref, clock),
                             clock=clock)
        backfill(ref, client, QUERY, options, clock=clock)
    listed = {r["asin"] for r in ref.query("select asin from deals")}
    outcomes = []
    with start_simulator(sim) as server:
        client = KeepaClient(SENTINEL_KEY, base_url=server.url, budget=TokenBudget(db, clock),
                             clock=clock, timeout=(0.5, 0.4), max_retry_s=600)
        for _ in range(10):  # cron would start it again after a failed run
            try:
                summary = backfill(db, client, QUERY, options, clock=clock)
            except KeepaError as exc:  # exit 1 on the command line; the next run resumes
                outcomes.append(type(exc).__name__)
                continue
            outcomes.append(summary["outcome"])
            if summary["outcome"] == "done":
                break
    assert outcomes[-1] == "done", outcomes
    rows = {r["asin"]: r for r in db.query("select asin, status, skip_reason from deals")}
    assert set(rows) == listed  # every listed product: saved or recorded, none lost
    assert all(r["status"] == "deal" or r["skip_reason"] for r in rows.values())
    runs = list(db.query("select deals_saved, deals_skipped from runs"))
    saved = sum(1 for r in rows.values() if r["status"] == "deal")
    reasons = {}
    for r in rows.values():
        if r["status"] != "deal":
            reasons[r["skip_reason"]] = reasons.get(r["skip_reason"], 0) + 1
    assert sum(r["deals_saved"] + r["deals_skipped"] for r in runs) >= len(rows)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    injected = sum(plan.injected.values())
    assert injected >= 3  # a run that met no fault proves nothing
    assert set(plan.injected) == set(KINDS) or products < 1000 or screening
    how = "funnel" if screening else "seed step"
    record("faults", f"backfill of {products} products ({how}), {rate:.0%} of requests "
           "faulted (every kind: " + ", ".join(KINDS) + ")", injected,
           f"{len(outcomes)} run(s) {outcomes}; {len(rows)}/{len(listed)} listed products "
           f"recorded: {saved} deals, skipped {reasons}; integrity ok")
