"""ConnectWise companies and contacts as the sync reads them (the parts its rules use), in ConnectWise's
field names. Tolerant of extra and missing fields; the ConnectWise client parses its pages into these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True)


def _list_or_empty(value: Any) -> Any:
    return [] if value is None else value


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
    id: int
    identifier: str | None = None
    name: str | None = None
    status: Reference | None = None
    types: list[Reference] = []

    _types = field_validator("types", mode="before")(_list_or_empty)

    @property
    def type_ids(self) -> set[int]:
        return {t.id for t in self.types if t.id is not None}

    @property
    def status_id(self) -> int | None:
        return self.status.id if self.status else None


class Contact(_Lenient):
    id: int
    first_name: str | None = None
    last_name: str | None = None
    company: CompanyReference | None = None
    inactive_flag: bool = False
    types: list[Reference] = []
    communication_items: list[CommunicationItem] = []

    _lists = field_validator("types", "communication_items", mode="before")(_list_or_empty)

    @field_validator("inactive_flag", mode="before")
    @classmethod
    def _null_is_active(cls, value: Any) -> Any:
        return False if value is None else value

    @property
    def type_ids(self) -> set[int]:
        return {t.id for t in self.types if t.id is not None}

    @property
    def company_id(self) -> int | None:
        return self.company.id if self.company else None
