"""ConnectWise companies and contacts as the sync reads them (the parts its rules use), in ConnectWise's
field names. Tolerant of extra and missing fields; the ConnectWise client parses its pages into these.

`DECIDING_FIELDS` are the fields the filter decides on: a read in which no record carries one of them
cannot be trusted (a security role may hide it), since the filter would silently exclude everyone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True)


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value


def _null_is_false(value: Any) -> Any:
    return False if value is None else value


def field_names(model: type[BaseModel]) -> list[str]:
    """ConnectWise's names of the fields a model reads, e.g. for a request's `fields` parameter."""
    return [info.alias or name for name, info in model.model_fields.items()]


class Reference(_Lenient):
    id: int | None = None
    name: str | None = None


class CompanyReference(_Lenient):
    id: int | None = None
    identifier: str | None = None
    name: str | None = None


class CommunicationItem(_Lenient):
    type: Reference | None = None
    value: str | None = None
    communication_type: str | None = None
    default_flag: bool | None = None


class Company(_Lenient):
    DECIDING_FIELDS: ClassVar[tuple[str, ...]] = ("status", "types", "deletedFlag")

    id: int
    identifier: str | None = None
    name: str | None = None
    status: Reference | None = None
    types: list[Reference] = []
    # ConnectWise keeps deleted companies and returns them unless asked not to.
    deleted_flag: bool = False

    _types = field_validator("types", mode="before")(_list_or_empty)
    _deleted = field_validator("deleted_flag", mode="before")(_null_is_false)

    @property
    def type_ids(self) -> set[int]:
        return {t.id for t in self.types if t.id is not None}

    @property
    def status_id(self) -> int | None:
        return self.status.id if self.status else None


class Contact(_Lenient):
    DECIDING_FIELDS: ClassVar[tuple[str, ...]] = ("company", "inactiveFlag", "types", "communicationItems")

    id: int
    first_name: str | None = None
    last_name: str | None = None
    company: CompanyReference | None = None
    inactive_flag: bool = False
    types: list[Reference] = []
    communication_items: list[CommunicationItem] = []

    _lists = field_validator("types", "communication_items", mode="before")(_list_or_empty)
    _active = field_validator("inactive_flag", mode="before")(_null_is_false)

    @property
    def type_ids(self) -> set[int]:
        return {t.id for t in self.types if t.id is not None}

    @property
    def company_id(self) -> int | None:
        return self.company.id if self.company else None
