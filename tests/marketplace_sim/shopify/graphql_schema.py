"""The GraphQL Admin API subset, as SDL, one schema per shape.

Two shapes exist: before 2026-04 an ``InventoryQuantityInput`` takes
``compareQuantity``; from 2026-04 it takes ``changeFromQuantity`` and
``compareQuantity`` is gone (using it is a schema validation error).
"""

import threading

from graphql import build_schema

from . import fulfillment_graphql, orders_graphql, webhook_subscriptions
from .inventory import CHANGE_FROM_VERSION

_SDL = """
scalar DateTime
scalar Money
scalar UnsignedInt64

"Makes a mutation idempotent: a retry with the same key returns the first result."
directive @idempotent(key: String!) on FIELD

schema {
  query: QueryRoot
  mutation: Mutation
}

type QueryRoot {
  shop: Shop!
  location(id: ID!): Location
  locations(first: Int!, after: String): LocationConnection!
  productVariant(id: ID!): ProductVariant
  productVariants(
    first: Int!, after: String, query: String
  ): ProductVariantConnection!
  inventoryItem(id: ID!): InventoryItem
  inventoryItems(first: Int!, after: String, query: String): InventoryItemConnection!
}

type Mutation {
  inventorySetQuantities(
    input: InventorySetQuantitiesInput!
  ): InventorySetQuantitiesPayload
}

enum CurrencyCode { AUD CAD CHF DKK EUR GBP JPY NOK NZD PLN SEK USD }

type Shop {
  id: ID!
  name: String!
  myshopifyDomain: String!
  currencyCode: CurrencyCode!
  ianaTimezone: String!
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type Location {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  isActive: Boolean!
}
type LocationEdge { cursor: String! node: Location! }
type LocationConnection {
  edges: [LocationEdge!]!
  nodes: [Location!]!
  pageInfo: PageInfo!
}

type Product {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
}

type ProductVariant {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  price: Money!
  title: String!
  displayName: String!
  product: Product!
  inventoryItem: InventoryItem!
  inventoryQuantity: Int
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection {
  edges: [ProductVariantEdge!]!
  nodes: [ProductVariant!]!
  pageInfo: PageInfo!
}

type InventoryItem {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  variant: ProductVariant!
  inventoryLevel(locationId: ID!): InventoryLevel
  inventoryLevels(first: Int!, after: String): InventoryLevelConnection!
}
type InventoryItemEdge { cursor: String! node: InventoryItem! }
type InventoryItemConnection {
  edges: [InventoryItemEdge!]!
  nodes: [InventoryItem!]!
  pageInfo: PageInfo!
}

type InventoryLevel {
  id: ID!
  item: InventoryItem!
  location: Location!
  quantities(names: [String!]!): [InventoryQuantity!]!
  updatedAt: DateTime!
}
type InventoryLevelEdge { cursor: String! node: InventoryLevel! }
type InventoryLevelConnection {
  edges: [InventoryLevelEdge!]!
  nodes: [InventoryLevel!]!
  pageInfo: PageInfo!
}

type InventoryQuantity {
  id: ID!
  name: String!
  quantity: Int!
  updatedAt: DateTime
}

input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  ignoreCompareQuantity: Boolean
  quantities: [InventoryQuantityInput!]!
}

input InventoryQuantityInput {
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  %(compare_field)s
}

type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventorySetQuantitiesUserError!]!
}

type InventoryAdjustmentGroup {
  id: ID!
  createdAt: DateTime!
  reason: String!
  referenceDocumentUri: String
  changes(inventoryItemIds: [ID!], locationIds: [ID!], quantityNames: [String!]):
    [InventoryChange!]!
}

type InventoryChange {
  name: String!
  delta: Int!
  quantityAfterChange: Int
  item: InventoryItem
  location: Location
  ledgerDocumentUri: String
}

type InventorySetQuantitiesUserError {
  code: InventorySetQuantitiesUserErrorCode
  field: [String!]
  message: String!
}

enum InventorySetQuantitiesUserErrorCode {
  CHANGE_FROM_QUANTITY_STALE
  COMPARE_QUANTITY_REQUIRED
  COMPARE_QUANTITY_STALE
  IDEMPOTENCY_CONCURRENT_REQUEST
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH
  IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED
  INVALID_INVENTORY_ITEM
  INVALID_LOCATION
  INVALID_NAME
  INVALID_QUANTITY_NEGATIVE
  INVALID_QUANTITY_TOO_HIGH
  INVALID_QUANTITY_TOO_LOW
  INVALID_REASON
  INVALID_REFERENCE_DOCUMENT
  ITEM_NOT_STOCKED_AT_LOCATION
  NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR
  NON_MUTABLE_INVENTORY_ITEM
}
"""

_SHAPES = {
    "compare_quantity": "compareQuantity: Int",
    "change_from_quantity": "changeFromQuantity: Int",
}
_lock = threading.Lock()
_schemas = {}


def shape_for(version):
    return (
        "change_from_quantity" if version >= CHANGE_FROM_VERSION else "compare_quantity"
    )


def schema_for(version, attach_resolvers):
    """The (cached) schema serving ``version``; ``attach_resolvers(schema)``
    runs once when it is built."""
    shape = shape_for(version)
    with _lock:
        if shape not in _schemas:
            sdl = _SDL % {"compare_field": _SHAPES[shape]} + webhook_subscriptions.SDL
            sdl += fulfillment_graphql.sdl_after(sdl) + orders_graphql.SDL
            schema = build_schema(sdl)
            attach_resolvers(schema)
            _schemas[shape] = schema
        return _schemas[shape]
