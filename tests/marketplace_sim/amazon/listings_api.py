"""Listings Items API 2021-08-01: patchListingsItem (quantities through the
``fulfillment_availability`` attribute), getListingsItem and
searchListingsItems.

Amazon splits refusals in two: a request it cannot parse (no
``marketplaceIds``, no ``productType``, ``patches`` not a non-empty list of
``{op, path, value}``) is a 400 ``BAD_REQUEST``; a well-formed submission
whose *values* are wrong (negative or fractional quantity, a channel other
than DEFAULT, a SKU the seller has no listing for) is a 200 with status
``INVALID`` and issues, and nothing is applied. ``ACCEPTED`` means queued:
the quantity lands ``catalog.patch_delay`` seconds later (sim clock).
A sellerId other than the token's seller is a 403.
"""

import secrets
import threading

from .wire import ApiError, Unauthorized, json_response

PATCH_OPS = ("add", "replace", "merge", "delete")
QUANTITY_PATH = "/attributes/fulfillment_availability"
INCLUDED = (
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
)
SEARCH_LIMIT = 1000  # the model: at most 1000 SKUs can be paged through


class BadRequest(ApiError):
    code = "BAD_REQUEST"


def issue(code, message, attribute="fulfillment_availability"):
    return {
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": [attribute],
        "categories": ["INVALID_ATTRIBUTE"],
    }


def quantity_from_value(value):
    """``(quantity, None)`` or ``(None, issue)`` for a fulfillment_availability
    value list (the feed messages use the same rules)."""
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        return None, issue(
            "90000900", "fulfillment_availability needs exactly one entry"
        )
    entry = value[0]
    channel = entry.get("fulfillment_channel_code")
    if channel != "DEFAULT":
        return None, issue(
            "90000900",
            f"fulfillment_channel_code {channel!r} is not valid for a "
            "merchant-fulfilled offer; use DEFAULT",
        )
    quantity = entry.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        return None, issue(
            "90000900",
            f"The value {quantity!r} of quantity is invalid: a whole number >= 0",
        )
    return quantity, None


def unknown_sku_issue(sku):
    return issue(
        "4000001",
        f"The SKU {sku!r} has no listing for this seller; only the full "
        "product facts (a PUT) can create one",
        attribute="sku",
    )


def _seller(sim, match):
    if match.group("sellerId") != sim.seller_id:
        raise Unauthorized("")


def _marketplace_ids(sim, request):
    ids = request.many("marketplaceIds")
    if not ids or not all(ids):
        raise BadRequest("Invalid input", "marketplaceIds is required")
    unknown = [mid for mid in ids if mid not in sim.marketplace_ids]
    if unknown:
        raise BadRequest("Invalid input", f"marketplaceIds not allowed: {unknown}")
    return ids


def _included(request, default):
    values = request.many("includedData")
    if values is None:
        return default
    bad = [value for value in values if value not in INCLUDED]
    if bad:
        raise BadRequest("Invalid input", f"includedData: invalid value(s) {bad}")
    return values


def _check_patch_body(body):
    if not isinstance(body, dict):
        raise BadRequest("Invalid input", "the body must be a JSON object")
    product_type = body.get("productType")
    if not isinstance(product_type, str) or not product_type:
        raise BadRequest("Invalid input", "productType is required")
    patches = body.get("patches")
    if not isinstance(patches, list) or not patches:
        raise BadRequest("Invalid input", "patches must be a non-empty array")
    for patch in patches:
        if not isinstance(patch, dict):
            raise BadRequest("Invalid input", "each patch is an object")
        if patch.get("op") not in PATCH_OPS:
            raise BadRequest("Invalid input", f"patch op must be one of {PATCH_OPS}")
        if not isinstance(patch.get("path"), str) or not patch["path"].startswith("/"):
            raise BadRequest("Invalid input", "patch path must be a JSON pointer")
        value = patch.get("value")
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        ):
            raise BadRequest("Invalid input", "patch value must be an array of objects")
    return patches


def patch_listings_item(sim, request, match):
    _seller(sim, match)
    sku = match.group("sku")
    _marketplace_ids(sim, request)
    mode = request.one("mode")
    if mode not in (None, "VALIDATION_PREVIEW"):
        raise BadRequest("Invalid input", f"mode {mode!r} is not valid")
    try:
        body = request.json()
    except ValueError:
        body = None
    patches = _check_patch_body(body)
    issues, quantity = [], None
    if sim.catalog.get(sku) is None:
        issues.append(unknown_sku_issue(sku))
    for patch in patches:
        if patch["path"] != QUANTITY_PATH:
            continue  # other attributes are accepted and not simulated
        if patch["op"] not in ("replace", "merge"):
            issues.append(
                issue(
                    "90000900",
                    f"op {patch['op']!r} cannot set fulfillment_availability",
                )
            )
            continue
        quantity, problem = quantity_from_value(patch.get("value"))
        if problem:
            issues.append(problem)
    submission_id = secrets.token_hex(16)
    if issues:
        status = "INVALID"
    elif mode == "VALIDATION_PREVIEW":
        status = "VALID"
    else:
        status = "ACCEPTED"
        if quantity is not None:
            sim.catalog.schedule_quantity(sku, quantity, f"patch:{submission_id}")
    return json_response(
        200,
        {"sku": sku, "status": status, "submissionId": submission_id, "issues": issues},
    )


def get_listings_item(sim, request, match):
    _seller(sim, match)
    sku = match.group("sku")
    marketplace_ids = _marketplace_ids(sim, request)
    included = _included(request, ["summaries"])
    listing = sim.catalog.get(sku)
    if listing is None:
        raise ApiError(
            f"SKU '{sku}' not found in marketplace {marketplace_ids[0]}",
            status=404,
            code="NOT_FOUND",
        )
    with sim.catalog.lock:
        return json_response(200, listing.render(included, marketplace_ids))


class PageTokens:
    def __init__(self):
        self._lock = threading.Lock()
        self._tokens = {}

    def issue(self, key, offset):
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (key, offset)
        return token

    def take(self, token):
        with self._lock:
            return self._tokens.get(token)


def search_listings_items(sim, request, match):
    _seller(sim, match)
    marketplace_ids = _marketplace_ids(sim, request)
    included = _included(request, ["summaries"])
    size = request.one("pageSize")
    try:
        size = 10 if size is None else int(size)
    except ValueError:
        size = 0
    if not 1 <= size <= 20:
        raise BadRequest("Invalid input", "pageSize must be between 1 and 20")
    identifiers = request.many("identifiers")
    identifiers_type = request.one("identifiersType")
    if (identifiers is None) != (identifiers_type is None):
        raise BadRequest("Invalid input", "identifiers and identifiersType go together")
    if identifiers is not None and (identifiers_type != "SKU" or len(identifiers) > 20):
        raise BadRequest(
            "Invalid input", "the simulator searches up to 20 identifiers of type SKU"
        )
    sort_by = request.one("sortBy") or "lastUpdatedDate"
    sort_order = request.one("sortOrder") or "DESC"
    if sort_by not in ("sku", "createdDate", "lastUpdatedDate") or sort_order not in (
        "ASC",
        "DESC",
    ):
        raise BadRequest("Invalid input", "sortBy/sortOrder: invalid value")
    key = (tuple(marketplace_ids), tuple(identifiers or ()), sort_by, sort_order)
    offset = 0
    token = request.one("pageToken")
    if token is not None:
        entry = sim.listing_page_tokens.take(token)
        if entry is None or entry[0] != key:
            raise BadRequest("Invalid input", "pageToken is invalid for this search")
        offset = entry[1]
    sim.catalog.settle()
    with sim.catalog.lock:
        listings = [
            listing
            for listing in sim.catalog.listings.values()
            if identifiers is None or listing.sku in identifiers
        ]
        attribute = {"sku": "sku", "createdDate": "created"}.get(sort_by, "updated")
        listings.sort(
            key=lambda item: (getattr(item, attribute), item.sku),
            reverse=sort_order == "DESC",
        )
        listings = listings[:SEARCH_LIMIT]
        page = [
            item.render(included, marketplace_ids)
            for item in listings[offset : offset + size]
        ]
    body = {"numberOfResults": len(listings), "items": page}
    pagination = {}
    if offset + size < len(listings):
        pagination["nextToken"] = sim.listing_page_tokens.issue(key, offset + size)
    if offset > 0:
        pagination["previousToken"] = sim.listing_page_tokens.issue(
            key, max(0, offset - size)
        )
    if pagination:
        body["pagination"] = pagination
    return json_response(200, body)
