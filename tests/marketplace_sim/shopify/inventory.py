"""``inventorySetQuantities``: absolute quantities with compare-and-set.

From API 2026-04 every quantity must carry ``changeFromQuantity`` (an explicit
null skips the check for that quantity; omitting it is an error) and the
mutation must carry ``@idempotent(key:)``. Before 2026-04 the check is
``compareQuantity``, required on every quantity unless
``ignoreCompareQuantity: true``. In 2026-04 and later ``ignoreCompareQuantity``
is still accepted by the schema but has no effect.

A call applies all of its quantities or none: any user error (a stale compare
included) leaves every level untouched. A call with an idempotency key seen
before returns the stored result of the first call without applying anything
again (whatever that result was, user errors included); the same key with a
different input is ``IDEMPOTENCY_KEY_PARAMETER_MISMATCH``.
"""

import dataclasses
import json
import re

from .clock import format_utc

CHANGE_FROM_VERSION = "2026-04"
MAX_INPUT_SIZE = 250
MAX_QUANTITY = 1_000_000_000
SETTABLE_NAMES = ("available", "on_hand")
REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
_GID = re.compile(r"^gid://shopify/(\w+)/(\d+)(?:\?.*)?$")


class InventoryInputError(Exception):
    """A request-level error (a top-level GraphQL error, not a userError)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


def parse_gid(value, kind):
    """``gid://shopify/<kind>/<n>`` -> n; None when it names another kind.

    :raise InventoryInputError: when ``value`` is not a global id at all.
    """
    match = _GID.match(value or "")
    if not match:
        raise InventoryInputError(
            f"Invalid global id '{value}'", "argumentLiteralsIncompatible"
        )
    return int(match.group(2)) if match.group(1) == kind else None


@dataclasses.dataclass(frozen=True)
class Change:
    name: str
    delta: int
    quantity_after: int
    inventory_item_id: int
    location_id: int


@dataclasses.dataclass(frozen=True)
class SetResult:
    """What the mutation returns, as plain data (stored for idempotent replay)."""

    group: dict | None  # id, createdAt, reason, referenceDocumentUri, changes
    user_errors: tuple
    changed_levels: tuple = ()  # levels whose quantities changed (for webhooks)


def _user_error(code, message, *field):
    return {"code": code, "field": ["input", *map(str, field)], "message": message}


class InventorySetter:
    """Applies ``inventorySetQuantities`` to a :class:`~.store.ShopStore`."""

    def __init__(self, store, timestamps):
        """:param timestamps: ``timestamps(last_epoch) -> epoch`` giving a
        time strictly after ``last_epoch`` (the simulator's clock rule)."""
        self.store = store
        self.timestamps = timestamps

    def set_quantities(self, data, version, idempotency_key):
        """:param data: the coerced ``input`` argument (absent fields absent).
        :raise InventoryInputError: for request-level errors."""
        new_rules = version >= CHANGE_FROM_VERSION
        if new_rules and idempotency_key is None:
            raise InventoryInputError(
                "The @idempotent directive is required for this mutation "
                f"from API version {CHANGE_FROM_VERSION}: add "
                '@idempotent(key: "<uuid>") to inventorySetQuantities.',
                "IDEMPOTENCY_KEY_REQUIRED",
            )
        quantities = data["quantities"]
        if len(quantities) > MAX_INPUT_SIZE:
            raise InventoryInputError(
                f"The input array size of {len(quantities)} is greater than the "
                f"maximum allowed of {MAX_INPUT_SIZE}.",
                "MAX_INPUT_SIZE_EXCEEDED",
            )
        if new_rules:
            missing = [
                i for i, q in enumerate(quantities) if "changeFromQuantity" not in q
            ]
            if missing:
                raise InventoryInputError(
                    "changeFromQuantity is required on every quantity from API "
                    f"version {CHANGE_FROM_VERSION} (pass null to skip the "
                    f"check); missing at quantities {missing}.",
                    "INVALID_FIELD_ARGUMENTS",
                )
        fingerprint = json.dumps(data, sort_keys=True)
        with self.store.lock:
            if idempotency_key is not None:
                stored = self.store.idempotent_results.get(idempotency_key)
                if stored is not None:
                    stored_fingerprint, result = stored
                    if stored_fingerprint == fingerprint:
                        return dataclasses.replace(result, changed_levels=())
                    return SetResult(
                        None,
                        (
                            {
                                "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                                "field": None,
                                "message": "The same idempotency key cannot be "
                                "used with different operation parameters.",
                            },
                        ),
                    )
            result = self._apply(data, new_rules)
            if idempotency_key is not None:
                self.store.idempotent_results[idempotency_key] = (fingerprint, result)
            return result

    def _apply(self, data, new_rules):
        errors = []
        name, reason = data["name"], data["reason"]
        reference = data.get("referenceDocumentUri")
        if name not in SETTABLE_NAMES:
            errors.append(
                _user_error(
                    "INVALID_NAME",
                    "The quantity name must be either 'available' or 'on_hand'.",
                    "name",
                )
            )
        if reason not in REASONS:
            errors.append(
                _user_error(
                    "INVALID_REASON", "The specified reason is invalid.", "reason"
                )
            )
        if reference is not None and not _URI.match(reference):
            errors.append(
                _user_error(
                    "INVALID_REFERENCE_DOCUMENT",
                    "The specified reference document is invalid.",
                    "referenceDocumentUri",
                )
            )
        targets = []
        seen = set()
        for index, quantity in enumerate(data["quantities"]):
            level = self._check_quantity(index, quantity, name, new_rules, data, errors)
            if level is not None:
                key = (level.inventory_item_id, level.location_id)
                if key in seen:
                    errors.append(
                        _user_error(
                            "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                            "The combination of inventoryItemId and locationId must "
                            "be unique.",
                            "quantities",
                            index,
                        )
                    )
                seen.add(key)
                targets.append((level, quantity["quantity"]))
        if errors:
            return SetResult(None, tuple(errors))
        return self._commit(targets, name, reason, reference)

    def _check_quantity(self, index, quantity, name, new_rules, data, errors):
        """Validate one quantity; return its level when it can be applied."""
        item_id = parse_gid(quantity["inventoryItemId"], "InventoryItem")
        location_id = parse_gid(quantity["locationId"], "Location")
        if item_id not in self.store.variants_by_item:
            errors.append(
                _user_error(
                    "INVALID_INVENTORY_ITEM",
                    "The specified inventory item could not be found.",
                    "quantities",
                    index,
                    "inventoryItemId",
                )
            )
            return None
        if location_id not in self.store.locations:
            errors.append(
                _user_error(
                    "INVALID_LOCATION",
                    "The specified location could not be found.",
                    "quantities",
                    index,
                    "locationId",
                )
            )
            return None
        level = self.store.level(item_id, location_id)
        if level is None:
            errors.append(
                _user_error(
                    "ITEM_NOT_STOCKED_AT_LOCATION",
                    "The specified inventory item is not stocked at the location.",
                    "quantities",
                    index,
                    "locationId",
                )
            )
            return None
        value = quantity["quantity"]
        if value < 0:
            errors.append(
                _user_error(
                    "INVALID_QUANTITY_NEGATIVE",
                    "The quantity can't be negative.",
                    "quantities",
                    index,
                    "quantity",
                )
            )
            return None
        if value > MAX_QUANTITY:
            errors.append(
                _user_error(
                    "INVALID_QUANTITY_TOO_HIGH",
                    "The total quantity can't be higher than 1,000,000,000.",
                    "quantities",
                    index,
                    "quantity",
                )
            )
            return None
        current = level.quantity(name) if name in SETTABLE_NAMES else None
        if new_rules:
            expected = quantity["changeFromQuantity"]
            if expected is not None and current is not None and expected != current:
                errors.append(
                    _user_error(
                        "CHANGE_FROM_QUANTITY_STALE",
                        "The changeFromQuantity value does not match persisted value.",
                        "quantities",
                        index,
                        "changeFromQuantity",
                    )
                )
                return None
        elif not data.get("ignoreCompareQuantity"):
            expected = quantity.get("compareQuantity")
            if expected is None:
                errors.append(
                    _user_error(
                        "COMPARE_QUANTITY_REQUIRED",
                        "The compareQuantity argument must be given to each quantity "
                        "or ignored using ignoreCompareQuantity.",
                        "quantities",
                        index,
                        "compareQuantity",
                    )
                )
                return None
            if current is not None and expected != current:
                errors.append(
                    _user_error(
                        "COMPARE_QUANTITY_STALE",
                        "The compareQuantity value does not match persisted value.",
                        "quantities",
                        index,
                        "compareQuantity",
                    )
                )
                return None
        return level

    def _commit(self, targets, name, reason, reference):
        changes = []
        changed = []
        stamp = None
        for level, value in targets:
            delta = value - level.quantity(name)
            if not delta:
                continue
            level.available += delta  # on_hand follows available
            level.updated_at = self.timestamps(level.updated_at)
            stamp = max(stamp or 0, level.updated_at)
            other = "on_hand" if name == "available" else "available"
            for changed_name in (name, other):
                changes.append(
                    Change(
                        changed_name,
                        delta,
                        level.quantity(changed_name),
                        level.inventory_item_id,
                        level.location_id,
                    )
                )
            changed.append(level)
        group = {
            "id": "gid://shopify/InventoryAdjustmentGroup/"
            f"{self.store.ids['adjustment_group']()}",
            "createdAt": format_utc(stamp or self.timestamps(0)),
            "reason": reason,
            "referenceDocumentUri": reference,
            "changes": tuple(changes),
        }
        return SetResult(group, (), tuple(changed))
