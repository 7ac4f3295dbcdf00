"""Every GraphQL document the Shopify fetcher sends, in one place.

The tests validate each of them against Shopify's own Admin API schema of the pinned version (2026-10)
with graphql-core, refusing any deprecated field (`NoDeprecatedCustomRule`), and check that its requested
cost stays under Shopify's single-query maximum of 1,000 points. Page sizes are
therefore part of the documents' contract: they are chosen here, next to the selections they multiply.

Cost model (shopify.dev "API rate limits"): an object costs 1, a scalar or enum 0, a connection 2 plus
`first` times the cost of one node. So nested connections multiply, and the page sizes below keep
`requestedQueryCost` of each document well under 1,000 (see `tests/test_shopify_queries.py`).

Selections stay away from buyer data on orders (no customer, email or addresses): orders then need only
the `read_orders` scope, never protected customer data access, and a shop that grants no customer
access still syncs its orders. Customer fields live in the customers data type, behind its own scope.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- page sizes (each document's requested cost is checked in the tests) -------------------------------
ORDERS_PAGE = 20  # orders per page; each with up to ORDER_LINE_ITEMS_FIRST line items inline
ORDER_LINE_ITEMS_FIRST = 5
LINE_ITEMS_PAGE = 100  # follow-up pages for orders with more line items
PRODUCTS_PAGE = 25
PRODUCT_VARIANTS_FIRST = 10
VARIANTS_PAGE = 100
CUSTOMERS_PAGE = 150
LOCATIONS_PAGE = 5  # locations per inventory page, each with up to LOCATION_LEVELS_FIRST levels inline
LOCATION_LEVELS_FIRST = 50
LEVELS_PAGE = 200  # follow-up pages for a location with more levels
# The quantity names stored for each inventory level (InventoryLevel.quantities(names:)).
INVENTORY_QUANTITY_NAMES = ("available", "on_hand", "committed", "incoming")

# --- selections shared by the paged and the bulk documents ---------------------------------------------
_MONEY = "shopMoney { amount currencyCode }"

ORDER_FIELDS = f"""
      id
      name
      createdAt
      updatedAt
      processedAt
      cancelledAt
      cancelReason
      closedAt
      displayFinancialStatus
      displayFulfillmentStatus
      currencyCode
      test
      tags
      sourceName
      totalPriceSet {{ {_MONEY} }}
      subtotalPriceSet {{ {_MONEY} }}
      totalTaxSet {{ {_MONEY} }}
      totalDiscountsSet {{ {_MONEY} }}"""

LINE_ITEM_FIELDS = f"""
          id
          name
          sku
          quantity
          currentQuantity
          variant {{ id }}
          originalUnitPriceSet {{ {_MONEY} }}
          discountedTotalSet {{ {_MONEY} }}"""

PRODUCT_FIELDS = """
      id
      title
      handle
      status
      vendor
      productType
      tags
      createdAt
      updatedAt
      publishedAt"""

VARIANT_FIELDS = """
          id
          title
          sku
          price
          compareAtPrice
          barcode
          position
          createdAt
          updatedAt
          selectedOptions { name value }
          inventoryItem { id tracked }"""

CUSTOMER_FIELDS = """
      id
      firstName
      lastName
      displayName
      defaultEmailAddress { emailAddress }
      defaultPhoneNumber { phoneNumber }
      state
      verifiedEmail
      taxExempt
      tags
      createdAt
      updatedAt
      numberOfOrders
      amountSpent { amount currencyCode }
      defaultAddress { city province countryCodeV2 zip }"""

LEVEL_FIELDS = """
          id
          updatedAt
          item { id sku }
          quantities(names: $quantityNames) { name quantity }"""

_PAGE_INFO = "pageInfo { hasNextPage endCursor }"

# --- connection test -------------------------------------------------------------------------------------
SHOP = """
query ShopInfo {
  shop { name myshopifyDomain currencyCode ianaTimezone plan { publicDisplayName } }
  currentAppInstallation { accessScopes { handle } }
}"""

# --- paged reads: sortKey UPDATED_AT ascending, filtered by `updated_at:>='...'` ------------------------
# `$withCount` asks the matching count on the first page only, in the same request: it decides whether the
# delta is large enough for a bulk operation without spending a request on it. `total` is the data type's
# whole count on every page (a point each): the last page's is the audit's platform figure (census.py),
# taken in the same request as the read's end, so a quiet sync spends no request on the audit.
ORDERS = f"""
query Orders($first: Int!, $after: String, $query: String, $withCount: Boolean!, $lineItemsFirst: Int!) {{
  ordersCount(query: $query, limit: null) @include(if: $withCount) {{ count precision }}
  total: ordersCount(limit: null) {{ count precision }}
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {_PAGE_INFO}
    nodes {{{ORDER_FIELDS}
      lineItems(first: $lineItemsFirst) {{
        {_PAGE_INFO}
        nodes {{{LINE_ITEM_FIELDS}
        }}
      }}
    }}
  }}
}}"""

ORDER_LINE_ITEMS = f"""
query OrderLineItems($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    id
    lineItems(first: $first, after: $after) {{
      {_PAGE_INFO}
      nodes {{{LINE_ITEM_FIELDS}
      }}
    }}
  }}
}}"""

PRODUCTS = f"""
query Products($first: Int!, $after: String, $query: String, $withCount: Boolean!, $variantsFirst: Int!) {{
  productsCount(query: $query, limit: null) @include(if: $withCount) {{ count precision }}
  total: productsCount(limit: null) {{ count precision }}
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {_PAGE_INFO}
    nodes {{{PRODUCT_FIELDS}
      variants(first: $variantsFirst) {{
        {_PAGE_INFO}
        nodes {{{VARIANT_FIELDS}
        }}
      }}
    }}
  }}
}}"""

PRODUCT_VARIANTS = f"""
query ProductVariants($id: ID!, $first: Int!, $after: String) {{
  product(id: $id) {{
    id
    variants(first: $first, after: $after) {{
      {_PAGE_INFO}
      nodes {{{VARIANT_FIELDS}
      }}
    }}
  }}
}}"""

CUSTOMERS = f"""
query Customers($first: Int!, $after: String, $query: String, $withCount: Boolean!) {{
  customersCount(query: $query, limit: null) @include(if: $withCount) {{ count precision }}
  total: customersCount(limit: null) {{ count precision }}
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{
    {_PAGE_INFO}
    nodes {{{CUSTOMER_FIELDS}
    }}
  }}
}}"""

# Inventory: one record per inventory item x location, read from each location's levels, filtered by
# the level's own `updated_at` (a quantity change moves the level, not the inventory item).
INVENTORY = f"""
query Inventory($first: Int!, $after: String, $levelsFirst: Int!, $query: String, $quantityNames: [String!]!) {{
  locations(first: $first, after: $after, includeInactive: true, sortKey: ID) {{
    {_PAGE_INFO}
    nodes {{
      id
      name
      isActive
      inventoryLevels(first: $levelsFirst, query: $query) {{
        {_PAGE_INFO}
        nodes {{{LEVEL_FIELDS}
        }}
      }}
    }}
  }}
}}"""

LOCATION_LEVELS = f"""
query LocationLevels($id: ID!, $first: Int!, $after: String, $query: String, $quantityNames: [String!]!) {{
  location(id: $id) {{
    id
    name
    isActive
    inventoryLevels(first: $first, after: $after, query: $query) {{
      {_PAGE_INFO}
      nodes {{{LEVEL_FIELDS}
      }}
    }}
  }}
}}"""

# When the shop's (or the delta's) first order was created: where a large orders export is split in two,
# so that it can use a free bulk slot (see streams.bulk_parts).
OLDEST_ORDER = """
query OldestOrder($query: String) {
  orders(first: 1, query: $query, sortKey: CREATED_AT) { nodes { id createdAt } }
}"""

# The paged documents whose page size adapts to Shopify's answers (pagesize.py): the variable sized, and the
# size the first request of an integration starts from (the documented cost formula's, safely under 1,000
# points; Shopify's own figures usually allow more).
# The first page of an incremental read asks at most this many records (levels per location for inventory):
# it is charged its whole requested cost up front, and an hourly sync's delta is usually empty or small.
FIRST_DELTA_PAGE = 10
SIZED_VARIABLE = {"Orders": "first", "OrderLineItems": "first", "Products": "first", "ProductVariants": "first",
                  "Customers": "first", "Inventory": "levelsFirst", "LocationLevels": "first"}
PAGE_SIZES = {"Orders": ORDERS_PAGE, "OrderLineItems": LINE_ITEMS_PAGE, "Products": PRODUCTS_PAGE,
              "ProductVariants": VARIANTS_PAGE, "Customers": CUSTOMERS_PAGE, "Inventory": LOCATION_LEVELS_FIRST,
              "LocationLevels": LEVELS_PAGE}

# --- bulk operations -------------------------------------------------------------------------------------
# `groupObjects` defaults to false from 2026-01 on: children come on lines of their own, anywhere in the
# file, and `bulk.py` puts them back under their parent. Grouped output is slower on Shopify's side.
BULK_RUN = """
mutation BulkRun($query: String!, $groupObjects: Boolean!) {
  bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}"""

_BULK_OPERATION_FIELDS = "id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt"

BULK_STATUS = f"""
query BulkStatus($id: ID!) {{
  bulkOperation(id: $id) {{ {_BULK_OPERATION_FIELDS} }}
}}"""

# The app's query operations still holding one of the shop's slots (newest first); an earlier run's
# operation counts against the five this app may run at once.
BULK_RUNNING = f"""
query BulkRunning {{
  bulkOperations(first: 10, query: "operation_type:query") {{
    nodes {{ {_BULK_OPERATION_FIELDS} }}
  }}
}}"""

BULK_CANCEL = """
mutation BulkCancel($id: ID!) {
  bulkOperationCancel(id: $id) {
    bulkOperation { id status }
    userErrors { field message }
  }
}"""


@dataclass(frozen=True)
class BulkQuery:
    """The inner query of a bulk operation: a template with `{search}` for the `query:` filter argument.

    Bulk queries take no `first`/`after` (Shopify pages internally) and use `edges { node }`; a child
    connection's rows come back as separate JSONL lines carrying `__parentId`.
    """

    name: str
    template: str

    def render(self, search: str | None) -> str:
        from json import dumps

        arg = f"(query: {dumps(search)})" if search else ""
        return self.template.replace("{search}", arg)


BULK_ORDERS = BulkQuery("orders", f"""
{{
  orders{{search}} {{
    edges {{ node {{{ORDER_FIELDS}
      lineItems {{ edges {{ node {{{LINE_ITEM_FIELDS}
      }} }} }}
    }} }}
  }}
}}""")

BULK_PRODUCTS = BulkQuery("products", f"""
{{
  products{{search}} {{
    edges {{ node {{{PRODUCT_FIELDS}
      variants {{ edges {{ node {{{VARIANT_FIELDS}
      }} }} }}
    }} }}
  }}
}}""")

BULK_CUSTOMERS = BulkQuery("customers", f"""
{{
  customers{{search}} {{
    edges {{ node {{{CUSTOMER_FIELDS}
    }} }}
  }}
}}""")

_BULK_LEVEL_FIELDS = LEVEL_FIELDS.replace(
    "$quantityNames", "[" + ", ".join(f'"{n}"' for n in INVENTORY_QUANTITY_NAMES) + "]")

BULK_INVENTORY = BulkQuery("inventory", f"""
{{
  locations(includeInactive: true) {{
    edges {{ node {{
      id
      name
      isActive
      inventoryLevels{{search}} {{ edges {{ node {{{_BULK_LEVEL_FIELDS}
      }} }} }}
    }} }}
  }}
}}""")

BULK_QUERIES = {q.name: q for q in (BULK_ORDERS, BULK_PRODUCTS, BULK_CUSTOMERS, BULK_INVENTORY)}

# Requested cost of each document at the page sizes above (Shopify's calculation; checked by the tests).
# The pacer starts from these, so that even a document's first request waits for its points instead of
# drawing a THROTTLED answer.
REQUESTED_COST = {
    "ShopInfo": 4, "Orders": 824, "OrderLineItems": 603, "Products": 829, "ProductVariants": 303,
    "Customers": 754, "Inventory": 767, "LocationLevels": 603,
    "OldestOrder": 3, "BulkRun": 10, "BulkStatus": 1, "BulkRunning": 12, "BulkCancel": 10,
    "DeletionEvents": 252, "Counts": 3, "NodesExist": 1, "OrdersById": 1, "ProductsById": 1, "CustomersById": 1,
    "LevelsById": 1,
}

# --- completeness: deletion events, counts, ids and records by id (deletions.py, census.py, ids.py) --------
# The event feed's subjects whose deletions are stored rows (a variant's: its inventory levels).
DELETION_SUBJECTS = ("PRODUCT", "PRODUCT_VARIANT", "CUSTOMER", "ORDER")
EVENTS_PAGE = 250
NODES_PAGE = 250  # ids per nodes(ids:) existence check (Shopify takes at most 250)

DELETION_EVENTS = f"""
query DeletionEvents($first: Int!, $after: String, $query: String!) {{
  events(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {{
    {_PAGE_INFO}
    nodes {{ id ... on BasicEvent {{ id createdAt action subjectId subjectType }} }}
  }}
}}"""

# The data types' whole counts in one request (a bulk read's audit; `sync audit`).
COUNTS = """
query Counts($orders: Boolean!, $products: Boolean!, $customers: Boolean!) {
  ordersCount(limit: null) @include(if: $orders) { count precision }
  productsCount(limit: null) @include(if: $products) { count precision }
  customersCount(limit: null) @include(if: $customers) { count precision }
}"""

# Which of these ids still exist (a deleted record's node is null): a stored row is marked deleted only
# once Shopify confirms it is gone.
NODES_EXIST = """
query NodesExist($ids: [ID!]!) {
  nodes(ids: $ids) { id }
}"""

# Records by id, in the very selection the reads store (`sync audit --repair`); children past the inline
# page are completed with OrderLineItems / ProductVariants as the paged reads do.
ORDERS_BY_ID = f"""
query OrdersById($ids: [ID!]!, $lineItemsFirst: Int!) {{
  nodes(ids: $ids) {{
    ... on Order {{{ORDER_FIELDS}
      lineItems(first: $lineItemsFirst) {{
        {_PAGE_INFO}
        nodes {{{LINE_ITEM_FIELDS}
        }}
      }}
    }}
  }}
}}"""

PRODUCTS_BY_ID = f"""
query ProductsById($ids: [ID!]!, $variantsFirst: Int!) {{
  nodes(ids: $ids) {{
    ... on Product {{{PRODUCT_FIELDS}
      variants(first: $variantsFirst) {{
        {_PAGE_INFO}
        nodes {{{VARIANT_FIELDS}
        }}
      }}
    }}
  }}
}}"""

CUSTOMERS_BY_ID = f"""
query CustomersById($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on Customer {{{CUSTOMER_FIELDS}
    }}
  }}
}}"""

LEVELS_BY_ID = f"""
query LevelsById($ids: [ID!]!, $quantityNames: [String!]!) {{
  nodes(ids: $ids) {{
    ... on InventoryLevel {{{LEVEL_FIELDS}
          location {{ id name isActive }}
    }}
  }}
}}"""

# Records per nodes(ids:) request: the paged reads' page sizes, which keep the requested cost in bounds.
BY_ID_PAGE = {"orders": ORDERS_PAGE, "products": PRODUCTS_PAGE, "customers": CUSTOMERS_PAGE, "inventory": LEVELS_PAGE}

# Every id of a data type with its updatedAt, by bulk export: what `sync audit` (and a deletion feed too
# old to trust) compares the stored ids with.
BULK_ORDER_IDS = BulkQuery("order_ids", """
{
  orders{search} { edges { node { id updatedAt } } }
}""")
BULK_PRODUCT_IDS = BulkQuery("product_ids", """
{
  products{search} { edges { node { id updatedAt } } }
}""")
BULK_CUSTOMER_IDS = BulkQuery("customer_ids", """
{
  customers{search} { edges { node { id updatedAt } } }
}""")
BULK_LEVEL_IDS = BulkQuery("inventory_ids", """
{
  locations(includeInactive: true) {
    edges { node { id inventoryLevels{search} { edges { node { id updatedAt } } } } }
  }
}""")
ID_EXPORTS = {"orders": BULK_ORDER_IDS, "products": BULK_PRODUCT_IDS, "customers": BULK_CUSTOMER_IDS,
              "inventory": BULK_LEVEL_IDS}
BULK_QUERIES.update({q.name: q for q in ID_EXPORTS.values()})

# Every document sent as a request body (the bulk templates are rendered in the tests, with and without
# a filter, and validated as well).
DOCUMENTS = {
    "ShopInfo": SHOP,
    "Orders": ORDERS,
    "OrderLineItems": ORDER_LINE_ITEMS,
    "Products": PRODUCTS,
    "ProductVariants": PRODUCT_VARIANTS,
    "Customers": CUSTOMERS,
    "Inventory": INVENTORY,
    "LocationLevels": LOCATION_LEVELS,
    "OldestOrder": OLDEST_ORDER,
    "BulkRun": BULK_RUN,
    "BulkStatus": BULK_STATUS,
    "BulkRunning": BULK_RUNNING,
    "BulkCancel": BULK_CANCEL,
    "DeletionEvents": DELETION_EVENTS,
    "Counts": COUNTS,
    "NodesExist": NODES_EXIST,
    "OrdersById": ORDERS_BY_ID,
    "ProductsById": PRODUCTS_BY_ID,
    "CustomersById": CUSTOMERS_BY_ID,
    "LevelsById": LEVELS_BY_ID,
}
