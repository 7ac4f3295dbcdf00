"""Every GraphQL document the project sends validates against Shopify's own schema of the pinned version
(2026-10) with no deprecated field, stays under the 1,000-point query maximum, and the emulator's
committed subset schema matches that schema."""

from __future__ import annotations

import pytest
from graphql import build_schema, get_named_type, parse, specified_rules, validate
from graphql.validation import NoDeprecatedCustomRule

from emulators.shopify.cost import operation_cost
from emulators.shopify.executor import SCHEMA_PATH
from emulators.shopify.make_schema import SCHEMA_VERSION, project_documents, subset_sdl
from sync.config import DEFAULT_SHOPIFY_API_VERSION
from sync.platforms.shopify import queries
from tests.shopify_fixtures import REFERENCE_SCHEMA, reference_schema

RULES = [*specified_rules, NoDeprecatedCustomRule]


@pytest.fixture(scope="module")
def reference():
    return reference_schema()


def all_documents() -> dict[str, str]:
    docs = dict(queries.DOCUMENTS)
    for bulk in queries.BULK_QUERIES.values():
        docs[f"bulk {bulk.name}"] = bulk.render(None)
        docs[f"bulk {bulk.name} (filtered)"] = bulk.render("updated_at:>='2024-01-01T00:00:00Z'")
    return docs


def test_the_reference_is_the_pinned_version():
    assert DEFAULT_SHOPIFY_API_VERSION == SCHEMA_VERSION and SCHEMA_VERSION in REFERENCE_SCHEMA.name


@pytest.mark.parametrize("name", sorted(all_documents()))
def test_document_validates_against_the_pinned_schema_with_no_deprecated_field(reference, name):
    errors = validate(reference, parse(all_documents()[name]), RULES)
    assert not errors, [e.message for e in errors]


def test_a_wrong_or_deprecated_document_is_caught(reference):
    bad = queries.ORDERS.replace("cancelledAt", "canceledAt")
    assert validate(reference, parse(bad), RULES), "a misspelt field must fail validation"
    old = queries.CUSTOMERS.replace("defaultEmailAddress { emailAddress }", "email")
    assert [e.message for e in validate(reference, parse(old), RULES)] == [
        "The field Customer.email is deprecated. Use `defaultEmailAddress.emailAddress` instead."]


# The variables the fetcher sends with each document, at their page sizes.
PAGE_VARIABLES = {
    "Orders": {"first": queries.ORDERS_PAGE, "lineItemsFirst": queries.ORDER_LINE_ITEMS_FIRST, "withCount": True},
    "OrderLineItems": {"first": queries.LINE_ITEMS_PAGE, "id": "gid://shopify/Order/1"},
    "Products": {"first": queries.PRODUCTS_PAGE, "variantsFirst": queries.PRODUCT_VARIANTS_FIRST, "withCount": True},
    "ProductVariants": {"first": queries.VARIANTS_PAGE, "id": "gid://shopify/Product/1"},
    "Customers": {"first": queries.CUSTOMERS_PAGE, "withCount": True},
    "Inventory": {"first": queries.LOCATIONS_PAGE, "levelsFirst": queries.LOCATION_LEVELS_FIRST,
                  "quantityNames": list(queries.INVENTORY_QUANTITY_NAMES)},
    "LocationLevels": {"first": queries.LEVELS_PAGE, "id": "gid://shopify/Location/1",
                       "quantityNames": list(queries.INVENTORY_QUANTITY_NAMES)},
    "DeletionEvents": {"first": queries.EVENTS_PAGE, "query": "action:destroy"},
    "Counts": {"orders": True, "products": True, "customers": True},
    "NodesExist": {"ids": ["gid://shopify/Product/1"]},
    "OrdersById": {"ids": ["gid://shopify/Order/1"], "lineItemsFirst": queries.ORDER_LINE_ITEMS_FIRST},
    "ProductsById": {"ids": ["gid://shopify/Product/1"], "variantsFirst": queries.PRODUCT_VARIANTS_FIRST},
    "CustomersById": {"ids": ["gid://shopify/Customer/1"]},
    "LevelsById": {"ids": ["gid://shopify/InventoryLevel/1"], "quantityNames": list(queries.INVENTORY_QUANTITY_NAMES)},
}


@pytest.mark.parametrize("name", sorted(queries.DOCUMENTS))
def test_requested_cost_stays_under_the_single_query_maximum(reference, name):
    document = parse(queries.DOCUMENTS[name])
    cost = operation_cost(reference, document, document.definitions[0], PAGE_VARIABLES.get(name, {}))
    assert cost <= 1000, f"{name} requests {cost} points"
    assert queries.REQUESTED_COST[name] == cost, "update queries.REQUESTED_COST"
    if name in ("Orders", "Products", "Customers", "Inventory"):
        assert cost >= 500, f"{name} pages could be larger ({cost} points)"


def test_committed_subset_schema_is_current_and_faithful(reference):
    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == subset_sdl(reference, project_documents()), \
        "regenerate: python -m emulators.shopify.make_schema tests/reference/shopify/admin-2026-10.schema.graphql"
    subset = build_schema(committed)
    for name, type_ in subset.type_map.items():
        if name.startswith("__"):
            continue
        real = reference.get_type(name)
        assert real is not None and type(real) is type(type_), name
        for field_name, field in getattr(type_, "fields", {}).items():
            real_field = real.fields[field_name]
            assert str(real_field.type) == str(field.type), f"{name}.{field_name}"
            assert set(field.args) == set(real_field.args), f"{name}.{field_name}"
            for arg_name, arg in getattr(field, "args", {}).items():
                assert str(real_field.args[arg_name].type) == str(arg.type), f"{name}.{field_name}({arg_name})"
        if hasattr(type_, "values"):
            assert set(type_.values) == set(real.values), name
        if hasattr(type_, "interfaces"):
            assert {i.name for i in type_.interfaces} <= {i.name for i in real.interfaces}, name
    assert get_named_type(subset.query_type.fields["orders"].type).name == "OrderConnection"
