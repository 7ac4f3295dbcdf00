"""The engine's optional `Connection.prepare` hook: a platform that starts work ahead says in which
order its data types become ready, and the engine stores them in that order, each exactly once."""

from __future__ import annotations

from sync.engine import SyncEngine, stream_order
from sync.models import RunParams
from sync.platforms import PlatformRegistry

from .engine_fixtures import add, make_settings, results
from .fakeplatform import FakeConnection, FakePlatform, FakeShop


class PreparedConnection(FakeConnection):
    def __init__(self, shop, secrets, log):
        super().__init__(shop, secrets)
        self.log = log

    def prepare(self, requests):
        self.log.append(("prepare", tuple(r.data_type for r in requests)))

        def ready():
            yield "products"  # ready first (say its export finished first)
            yield "products"  # a repeat is ignored
            yield "no-such-type"  # so is a name the engine did not ask for
        return ready()  # "orders" left out: synced after the others

    def fetch(self, request):
        self.log.append(("fetch", request.data_type))
        yield from super().fetch(request)


class PreparedPlatform(FakePlatform):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def connect(self, secrets, settings):
        plain = super().connect(secrets, settings)
        return PreparedConnection(plain.shop, secrets, self.log)


class Plain:
    def fetch(self, request):  # no prepare: the platform's order
        return iter(())


def test_without_prepare_the_platforms_order_is_kept():
    assert list(stream_order(Plain(), {"orders": None, "products": None})) == ["orders", "products"]


def test_prepare_orders_the_data_types_and_every_one_is_synced_once(tmp_path):
    settings = make_settings("sqlite", tmp_path)
    log: list = []
    client, credential = add(settings)
    engine = SyncEngine(settings, platforms=PlatformRegistry({"shopify": PreparedPlatform(log)}))
    summary = engine.run(RunParams(force=True, triggered_by="manual"))
    assert summary.results[0].success, summary.results[0].error_message
    assert log == [("prepare", ("orders", "products")), ("fetch", "products"), ("fetch", "orders")]
    shop = FakeShop.generate()
    streams = results(settings, credential)[0]["data_types_synced"]
    assert list(streams) == ["orders", "products"]  # counts keep the platform's order
    assert streams["orders"]["new"] == len(shop.records["orders"])
    assert streams["products"]["new"] == len(shop.records["products"])
