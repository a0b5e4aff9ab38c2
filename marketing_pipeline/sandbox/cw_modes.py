"""Switches for the ConnectWise sandbox: one per behaviour of the real API that public documentation does not
settle, so tests prove the pipeline right under each. Set them from Python (`sandbox.modes.configure(...)`)
or over HTTP (`POST /_sandbox/modes` with the same JSON).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

CHILD_CONDITIONS = ("apply", "ignore", "refuse")
DEFAULT_CODEBASE = "v2025_1"
CODEBASE = re.compile(r"^[A-Za-z0-9_]+$")
HIDEABLE = ("companies", "contacts")


class ModeError(ValueError):
    pass


@dataclass
class ConnectWiseModes:
    # childConditions: applied, silently ignored, or refused with a 400 (from `refuse_from_page` on).
    child_conditions: str = "apply"
    # Refusals (of childConditions and of `unrecognised` fields) start at this page: 1 = every request.
    refuse_from_page: int = 1
    # Condition fields answered with 400 "<field> is not a recognized name." (e.g. {"deletedFlag"}).
    unrecognised: set[str] = field(default_factory=set)
    # `fields` answered without the array fields (types, communicationItems).
    fields_without_arrays: bool = False
    # Contacts come without their `company` (a security role that hides it); filtering by it still works.
    blank_company: bool = False
    # The next N API requests get a proxy's HTML 429, without Retry-After.
    proxy_429: int = 0
    # The codebase the API is served under; companyinfo names it. Changing it = "codebase moved".
    codebase: str = DEFAULT_CODEBASE
    # Fields a security role hides, by endpoint: {"companies": ["types"], "contacts": ["communicationItems"]}.
    hidden_fields: dict[str, list[str]] = field(default_factory=dict)
    # Contacts that change while /company/contacts is paged: once `change_after` contact requests have been
    # answered, these are deactivated, moved to another company ([contact id, company id]) or given other
    # types ([contact id, [type ids]]), their `_info.lastUpdated` stamped with the time, as an edit is.
    deactivate_while_paging: list[int] = field(default_factory=list)
    move_while_paging: list[list[int]] = field(default_factory=list)
    retype_while_paging: list[list[Any]] = field(default_factory=list)
    change_after: int = 1
    # Forward-only pagination (header `pagination-type: forward-only`, `pageId`, `orderBy` refused):
    # supported as the Developer Guide describes it, or the header ignored (navigable paging by `page`).
    forward_only: bool = True
    # Keys whose value is null left out of every record answered, nested ones too.
    omit_nulls: bool = False

    def configure(self, settings: dict[str, Any]) -> None:
        """Apply `settings` (JSON-shaped); unknown names or bad values raise ModeError and change nothing."""
        known = {f.name for f in fields(self)}
        unknown = set(settings) - known
        if unknown:
            raise ModeError(f"unknown mode(s): {sorted(unknown)}; known: {sorted(known)}")
        staged = ConnectWiseModes(**{f.name: getattr(self, f.name) for f in fields(self)})
        for name, value in settings.items():
            if name == "unrecognised":
                if isinstance(value, str) or not all(isinstance(f, str) for f in value):
                    raise ModeError("unrecognised must be a list of field names")
                value = set(value)
            setattr(staged, name, value)
        staged.validate()
        for f in fields(self):
            setattr(self, f.name, getattr(staged, f.name))

    def validate(self) -> None:
        if self.child_conditions not in CHILD_CONDITIONS:
            raise ModeError(f"child_conditions must be one of {CHILD_CONDITIONS}")
        if not isinstance(self.refuse_from_page, int) or self.refuse_from_page < 1:
            raise ModeError("refuse_from_page must be a positive integer")
        if not isinstance(self.proxy_429, int) or self.proxy_429 < 0:
            raise ModeError("proxy_429 must be a non-negative integer")
        if not isinstance(self.change_after, int) or self.change_after < 1:
            raise ModeError("change_after must be a positive integer")
        if not all(isinstance(i, int) for i in self.deactivate_while_paging):
            raise ModeError("deactivate_while_paging must be a list of contact ids")
        if not all(len(m) == 2 and all(isinstance(i, int) for i in m) for m in self.move_while_paging):
            raise ModeError("move_while_paging must be a list of [contact id, company id]")
        if not all(len(m) == 2 and isinstance(m[0], int) and isinstance(m[1], list) for m in self.retype_while_paging):
            raise ModeError("retype_while_paging must be a list of [contact id, [type ids]]")
        if not isinstance(self.codebase, str) or not CODEBASE.match(self.codebase):
            raise ModeError("codebase must look like v2025_1 (no slashes)")
        hidden = self.hidden_fields
        if not isinstance(hidden, dict) or not all(
            kind in HIDEABLE and isinstance(names, list) and all(isinstance(n, str) for n in names)
            for kind, names in hidden.items()
        ):
            raise ModeError(f"hidden_fields maps {' or '.join(HIDEABLE)} to lists of field names")
        for flag in ("fields_without_arrays", "blank_company", "forward_only", "omit_nulls"):
            if not isinstance(getattr(self, flag), bool):
                raise ModeError(f"{flag} must be true or false")

    def refuses(self, page: int) -> bool:
        return page >= self.refuse_from_page

    def changes_pending(self) -> bool:
        return bool(self.deactivate_while_paging or self.move_while_paging or self.retype_while_paging)

    def as_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["unrecognised"] = sorted(self.unrecognised)
        out["hidden_fields"] = {kind: list(names) for kind, names in self.hidden_fields.items()}
        return out
