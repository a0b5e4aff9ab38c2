"""A stateful fake of the Encharge REST endpoints a sync uses, following the reference's contract.

Deliberately the worst plausible case where the real API is undocumented: `tags` inside `POST /people`
REPLACES the person's tags, so a client that relied on it being additive would be caught; an upsert by
address does not see an archived person and creates a second one; an upsert by an id it does not know is
a 404. `modes` (see `encharge_modes`) switches on every other way a read can be incomplete, inconsistent
or silent, and a live account's sign-ups and activity while the listing is read.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from marketing_pipeline.sandbox.encharge_modes import EnchargeModes
from marketing_pipeline.sandbox.server import Request, Response, SandboxServer
from marketing_pipeline.sync.emails import email_problem

MAX_LIMIT = 100
SANDBOX_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzYW5kYm94Ijp0cnVlfQ.c2FuZGJveC1zaWduYXR1cmU"
PERSON_FIELDS = ("email", "userId", "firstName", "lastName", "name", "company", "title", "website", "phone")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


def _envelope(status: int, message: str, **extra: Any) -> Response:
    return Response(
        status,
        {
            "error": {
                "message": message,
                "markdown": f"<p>{message}</p>",
                "traceId": str(uuid.uuid4()),
                **extra,
            }
        },
    )


def _anonymous(person: dict[str, Any]) -> bool:
    """What `ignoreAnonymous` leaves out: people with neither an email nor a userId."""
    return not person.get("email") and not person.get("userId")


TAG_CHARACTERS = re.compile(r"[A-Za-z0-9 _-]+")


def _split(tags: Any) -> list[str]:
    if tags is None:
        return []
    parts = tags if isinstance(tags, list) else str(tags).split(",")
    return [str(p).strip() for p in parts if str(p).strip()]


# What a proxy in front of the API answers beyond the unpublished limit: HTML, and no Retry-After.
TOO_MANY_REQUESTS_HTML = (
    b"<html><head><title>429 Too Many Requests</title></head><body><h1>Too Many Requests</h1></body></html>"
)


class EnchargeSandbox(SandboxServer):
    name = "encharge-sandbox"

    def __init__(
        self,
        people: list[dict[str, Any]] | None = None,
        *,
        token: str = SANDBOX_TOKEN,
        state_file: str | Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(port=port, host=host)
        self.token = token
        self.reject_emails: set[str] = set()  # addresses this server refuses as invalid (lower-case)
        self.modes = EnchargeModes()
        self.state_file = Path(state_file) if state_file else None
        self._lock = threading.RLock()
        self.people: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []  # ids of listed (not archived) people in creation order, for O(page) paging
        self._archived: list[str] = []
        self._by_email: dict[str, list[str]] = {}  # lower-cased address -> everyone with it, oldest first
        self._created: dict[str, int] = {}  # id -> creation sequence (ties of createdAt go by it)
        self._active: dict[str, int] = {}  # id -> when the person last acted, on the same sequence
        self._clock = 0
        self._created_in_order = True  # createdAt never went backwards: `_order` is already by createdAt
        self._last_created = ""
        self._version = 0  # bumped by every change a listing's order depends on
        self._listing_cache: tuple[tuple[Any, ...], list[str]] | None = None
        self._signups = 0
        self._spelling: dict[str, str] = {}  # tag_case "keep_first": a tag's lower case -> the account's spelling
        self._counted_ahead = 0  # what `count_growth` has added to peopleCount so far
        if self.state_file and self.state_file.exists():
            people = json.loads(self.state_file.read_text(encoding="utf-8"))["people"]
        for person in people or []:
            self._insert({**person, "tags": _split(person.get("tags"))})

    @property
    def upsert_tags(self) -> str:
        return self.modes.upsert_tags

    @upsert_tags.setter
    def upsert_tags(self, value: str) -> None:
        self.modes.configure({"upsert_tags": value})

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1/"

    def env(self) -> dict[str, str]:
        return {"ENCHARGE_BASE_URL": self.base_url, "ENCHARGE_REST_API_KEY": self.token}

    def fault_body(self, status: int) -> Any:
        return _envelope(status, "Too many requests" if status == 429 else "Internal server error").body

    # --- state -----------------------------------------------------------------------------------

    def _tick(self) -> int:
        self._clock += 1
        self._version += 1
        return self._clock

    def _insert(self, person: dict[str, Any]) -> None:
        if person["id"] not in self.people:
            (self._archived if person.get("archived") else self._order).append(person["id"])
            self._created[person["id"]] = self._active[person["id"]] = self._tick()
            created = str(person.get("createdAt") or "")
            if created < self._last_created:
                self._created_in_order = False
            self._last_created = max(self._last_created, created)
        self.people[person["id"]] = person
        if person.get("email"):
            self._by_email.setdefault(person["email"].lower(), []).append(person["id"])

    def add_person(self, person: dict[str, Any]) -> dict[str, Any]:
        """Insert a person as given (a case-variant duplicate, say); tags as a list or a string."""
        with self._lock:
            record = {"id": str(uuid.uuid4()), "unsubscribed": False, "createdAt": _now(), **person}
            record["tags"] = _split(person.get("tags"))
            record["updatedAt"] = record.get("updatedAt") or record["createdAt"]
            self._insert(record)
            self._save()
            return record

    def archive(self, email: str) -> None:
        """Archive everyone with this address (any case): left out of the listing, kept otherwise."""
        with self._lock:
            for person in self.people.values():
                if (person.get("email") or "").lower() == email.strip().lower() and not person.get("archived"):
                    person["archived"] = True
                    self._order.remove(person["id"])
                    self._archived.append(person["id"])
                    self._version += 1
            self._save()

    def delete(self, email: str) -> None:
        """Delete everyone with this address (a marketer's doing, not the sync's)."""
        with self._lock:
            for person in [p for p in self.people.values() if (p.get("email") or "").lower() == email.lower()]:
                del self.people[person["id"]]
                for index in (self._order, self._archived):
                    if person["id"] in index:
                        index.remove(person["id"])
                self._version += 1
            self._reindex()
            self._save()

    def _reindex(self) -> None:
        self._by_email.clear()
        for person in self.people.values():
            if person.get("email"):
                self._by_email.setdefault(person["email"].lower(), []).append(person["id"])

    def find(
        self, *, email: str | None = None, person_id: str | None = None, include_archived: bool = True
    ) -> dict[str, Any] | None:
        """By id, or the oldest person with the address (exactly as given in `case_sensitive_emails` mode)."""
        with self._lock:
            if person_id or not email:
                return self.people.get(person_id) if person_id else None
            wanted = email.strip()
            for candidate in (self.people[i] for i in self._by_email.get(wanted.lower(), [])):
                if self.modes.case_sensitive_emails and candidate.get("email") != wanted:
                    continue
                if include_archived or not candidate.get("archived"):
                    return candidate
        return None

    def tags_of(self, email: str) -> set[str]:
        person = self.find(email=email)
        return set(person["tags"]) if person else set()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A deep copy of everyone, keyed by lower-cased email (or id when there is none)."""
        with self._lock:
            return {(p.get("email") or p["id"]).lower(): json.loads(json.dumps(p)) for p in self.people.values()}

    def snapshot_by_id(self) -> dict[str, dict[str, Any]]:
        """A deep copy of everyone, keyed by id (people sharing an address stay apart)."""
        with self._lock:
            return {p["id"]: json.loads(json.dumps(p)) for p in self.people.values()}

    def _save(self) -> None:
        if not self.state_file:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"people": list(self.people.values())}, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".encharge-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
        os.replace(tmp, self.state_file)

    def render(self, person: dict[str, Any], *, read: bool = False) -> dict[str, Any]:
        """A person as the API shows them; a read leaves out the fields `modes.omit_fields` names."""
        hidden = {"tags", "archived", *(self.modes.omit_fields if read else ())}
        out = {k: v for k, v in person.items() if k not in hidden}
        out["tags"] = ",".join(person["tags"]) if person["tags"] else None
        if person.get("firstName") or person.get("lastName"):
            out["name"] = " ".join(x for x in (person.get("firstName"), person.get("lastName")) if x)
        return out

    def control(self, request: Request) -> Response | None:
        if request.path != "/_sandbox/modes":
            return None
        if request.method == "POST":
            body = request.json() or {}
            try:
                self.modes.configure(body)
            except ValueError as exc:
                return Response(400, {"message": str(exc)})
            for email in body.get("archive", []):
                self.archive(email)
            for person in body.get("add_people", []):
                self.add_person(person)
        return Response(200, self.modes.as_dict())

    # --- HTTP ------------------------------------------------------------------------------------

    def _auth(self, request: Request) -> Response | None:
        token = request.headers.get("X-Encharge-Token") or request.query.get("token")
        if not token:
            return _envelope(401, "User not logged in: Unauthorized request: no authentication given")
        if token.count(".") != 2:
            return _envelope(401, "Token without payload (should be JWT token).", errorCode=10082)
        if token != self.token:
            return _envelope(401, "User not logged in: Unauthorized request: invalid token")
        return None

    def _body(self, request: Request) -> Any:
        content_type = request.headers.get("Content-Type", "")
        if "application/x-www-form-urlencoded" in content_type:
            return dict(parse_qsl(request.body_bytes.decode()))
        return request.json()

    def handle(self, request: Request) -> Response:
        if not self.modes.within_hidden_limit():
            with self._log_lock:
                self.throttled += 1
            return Response(429, raw=TOO_MANY_REQUESTS_HTML, content_type="text/html")
        if not request.path.startswith("/v1/"):
            return Response(404, raw=f"Cannot {request.method} {request.path}".encode(), content_type="text/html")
        denied = self._auth(request)
        if denied:
            return denied
        route = (request.method, request.path[len("/v1/") :].strip("/"))
        try:
            body = self._body(request) if request.method in ("POST", "DELETE") else None
        except (ValueError, UnicodeDecodeError):
            return _envelope(400, "Request body is not valid JSON")
        handlers = {
            ("GET", "accounts/info"): self._account,
            ("GET", "people/all"): self._all,
            ("GET", "people"): self._lookup,
            ("POST", "people"): self._upsert,
            ("POST", "tags"): self._add_tag,
            ("DELETE", "tags"): self._remove_tag,
        }
        handler = handlers.get(route)
        if handler is None:
            return Response(404, raw=f"Cannot {request.method} {request.path}".encode(), content_type="text/html")
        if route[1] == "tags" and route[0] in self.modes.tags_html_404:
            return Response(404, raw=f"Cannot {request.method} {request.path}".encode(), content_type="text/html")
        if request.method in ("POST", "DELETE"):
            failing = self.modes.failing_write(f"{route[0]} /{route[1]}")
            if failing:
                return _envelope(failing, "This request cannot be completed" if failing != 401 else "invalid token")
        return handler(request, body)

    def _account(self, request: Request, _: Any) -> Response:
        with self._lock:
            count = len(self._order) + (len(self._archived) if self.modes.count_archived else 0)
            self._counted_ahead += self.modes.count_growth
            count += self._counted_ahead
        return Response(
            200,
            {
                "peopleCount": count,
                "status": "active",
                "timezone": "Europe/London",
                "name": "Sandbox",
                "accountId": 1,
                "site": "sandbox.example.com",
            },
        )

    def _all(self, request: Request, _: Any) -> Response:
        try:
            limit = min(int(request.query.get("limit", MAX_LIMIT)), MAX_LIMIT)
            offset = int(request.query.get("offset", 0))
        except ValueError:
            return _envelope(400, "limit and offset must be numbers")
        if limit < 1 or offset < 0:
            return _envelope(400, "limit must be positive and offset not negative")
        sort = request.query.get("sort") or None
        if sort and self.modes.sort == "refuse":
            return _envelope(400, f"Invalid sort field: {sort}")
        descending = request.query.get("order", "asc").lower() == "desc"
        ignore_anonymous = request.query.get("ignoreAnonymous", "").lower() in ("true", "1")
        with self._lock:
            listing = self._listing(
                sort if self.modes.sort == "honour" else None,
                descending,
                ignore_anonymous and self.modes.ignore_anonymous == "honour",
            )
            page = [self.people[i] for i in listing[offset : offset + limit]]
            fault = self.modes.take_page_fault(offset)
            if fault == "short":
                page = page[: len(page) // 2]
            elif fault == "empty":
                page = []
            body = {"people": [self.render(p, read=True) for p in page]}
            deleted = self.modes.take_deletion(offset)
            if deleted:
                self.delete(deleted)
            self._live()
            return Response(200, body)

    def _listing(self, sort: str | None, descending: bool, ignore_anonymous: bool) -> list[str]:
        """Ids of the listed people in the order asked for (`sort`), else in the default order."""
        key = (sort, descending, ignore_anonymous, self.modes.listing_order, self._version)
        if self._listing_cache is not None and self._listing_cache[0] == key:
            return self._listing_cache[1]
        ids = self._order
        if sort == "createdAt" and not descending and self._created_in_order:
            pass  # creation order already (the benchmarks' 100,000 people are never sorted)
        elif sort:
            ids = sorted(ids, key=lambda i: (str(self.people[i].get(sort) or ""), self._created[i]), reverse=descending)
        elif self.modes.listing_order == "activity":
            ids = sorted(ids, key=lambda i: self._active[i], reverse=True)
        if ignore_anonymous and any(_anonymous(self.people[i]) for i in ids):
            ids = [i for i in ids if not _anonymous(self.people[i])]
        self._listing_cache = (key, ids)
        return ids

    def _live(self) -> None:
        """A live account between two page reads: people sign up and act."""
        modes = self.modes
        for _ in range(modes.signups_per_page):
            number = self._signups
            self._signups += 1
            every = modes.anonymous_every
            if modes.signup_emails:
                person: dict[str, Any] = {"email": modes.signup_emails.pop(0), "firstName": "Signed", "lastName": "Up"}
            elif every and number % every == every - 1:
                person = {}  # an anonymous visitor: no email, no userId
            else:
                person = {"email": f"visitor{number}@signups.example.org"}
            self.add_person(person)
        for _ in range(modes.activity_per_page):
            if self._order:
                self._active[min(self._order, key=self._active.__getitem__)] = self._tick()

    def _lookup(self, request: Request, _: Any) -> Response:
        archived = request.query.get("includeArchived", "").lower() in ("true", "1")
        found = []
        for key, value in request.query.items():
            match = re.fullmatch(r"people\[\d+\]\[(email|id|userId)\]", key)
            if not match:
                continue
            kind = match.group(1)
            with self._lock:
                if kind == "userId":
                    person = next((p for p in self.people.values() if p.get("userId") == value), None)
                elif kind == "email":
                    person = self.find(email=value, include_archived=archived)
                else:
                    person = self.find(person_id=value)
                    person = person if person and (archived or not person.get("archived")) else None
            if value.strip().lower() in {e.strip().lower() for e in self.modes.lookup_400}:
                return _envelope(400, f"Invalid email: {value}")
            if person:
                found.append(self.render(person, read=True))
            elif self.modes.lookup_404:
                return _envelope(404, "Person not found")
        return Response(200, {"users": found})

    def _upsert(self, request: Request, body: Any) -> Response:
        single = isinstance(body, dict)
        records = [body] if single else body
        if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
            return _envelope(400, "Body must be a person object or a non-empty array of people")
        for record in records:
            email = record.get("email")
            if email is not None and (
                not isinstance(email, str)
                or email_problem(email.strip())
                or email.strip().lower() in self.reject_emails
            ):
                return _envelope(400, f"Invalid email: {email}")
            if not email and not record.get("id") and not record.get("userId"):
                return _envelope(400, "Each person needs an email, id or userId")
            existing = self.find(person_id=record["id"]) if record.get("id") else None
            if record.get("id") and existing is None:
                return _envelope(404, f"Person with id {record['id']} not found")
            moving = (
                existing is not None
                and bool(record.get("email"))
                and (str(record["email"]).strip().lower() != (existing.get("email") or "").lower())
            )
            if moving and self.modes.upsert_id_email == "refuse":
                return _envelope(409, f"The email of person {record['id']} cannot be changed")
            refused = self.modes.refused_write(record.get("email"), (existing or {}).get("email"))
            if refused:
                return _envelope(refused, f"This person cannot be changed: {record.get('email') or record.get('id')}")
        with self._lock:
            users = [self.render(self._apply(record)) for record in records]
            self._save()
        if self.modes.upsert_answer == "bare":
            return Response(200, {})
        return Response(200, {"user": users[0]} if single else {"users": users})

    def _apply(self, record: dict[str, Any]) -> dict[str, Any]:
        person = None
        if record.get("id"):
            person = self.people.get(record["id"])
        if person is None and record.get("userId"):
            person = next((p for p in self.people.values() if p.get("userId") == record["userId"]), None)
        if person is None and record.get("email"):
            person = self.find(email=record["email"], include_archived=False)
        now = _now()
        if person is None:
            person = {"id": str(uuid.uuid4()), "tags": [], "unsubscribed": False, "createdAt": now}
            for name in PERSON_FIELDS:
                if name in record:
                    person[name] = record[name].strip() if name == "email" else record[name]
            person["tags"] = _split(record.get("tags")) if self.upsert_tags == "replace" else []
            person["updatedAt"] = now
            self._insert(person)
            return person
        for name in PERSON_FIELDS:
            if name in record and name != "email":
                person[name] = record[name]
        moving = bool(record.get("email")) and record["email"].strip().lower() != (person.get("email") or "").lower()
        if moving and not (record.get("id") and self.modes.upsert_id_email == "ignore"):
            person["email"] = record["email"].strip()
            self._reindex()
        if "tags" in record and self.upsert_tags == "replace":  # the worst case: replace, not add
            person["tags"] = _split(record["tags"])
        person["updatedAt"] = now
        self._version += 1
        return person

    def _target(self, body: Any) -> tuple[dict[str, Any] | None, str | None, Response | None]:
        if not isinstance(body, dict) or not isinstance(body.get("tag"), str) or not body["tag"].strip():
            return None, None, _envelope(400, "tag is required")
        if not any(body.get(k) for k in ("email", "id", "userId")):
            return None, None, _envelope(400, "An email, id or userId is required")
        person = (
            self.find(person_id=body.get("id"))
            if body.get("id")
            else self.find(email=body.get("email"), include_archived=False)
        )
        if person is None:
            return None, None, _envelope(404, "Person not found")
        refused = self.modes.refused_write(person.get("email"), body.get("email"))
        if refused:
            return None, None, _envelope(refused, f"This person cannot be changed: {person.get('email')}")
        return person, body["tag"], None

    def _tag_names(self, tag: str) -> tuple[list[str], Response | None]:
        """The names in a tag call, each as this account spells it (`tag_case`); a name outside Encharge's
        documented characters (letters, numbers, spaces, dashes, underscores) is refused with a 400."""
        names = _split(tag)
        odd = [n for n in names if not TAG_CHARACTERS.fullmatch(n)]
        if odd:
            return [], _envelope(
                400, f"Tags may contain only letters, numbers, spaces, dashes and underscores: {odd[0]!r}"
            )
        case = self.modes.tag_case
        if case == "lower":
            return [n.lower() for n in names], None
        if case == "keep_first":
            spelled = []
            for name in names:
                if name.lower() not in self._spelling:
                    seen = (t for p in self.people.values() for t in p["tags"] if t.lower() == name.lower())
                    self._spelling[name.lower()] = next(seen, name)
                spelled.append(self._spelling[name.lower()])
            return spelled, None
        return names, None

    def _add_tag(self, request: Request, body: Any) -> Response:
        with self._lock:
            person, tag, error = self._target(body)
            if error:
                return error
            assert person is not None and tag is not None
            names, error = self._tag_names(tag)
            if error:
                return error
            insensitive = self.modes.tag_case != "sensitive"
            for name in names:
                held = {t.lower() for t in person["tags"]} if insensitive else set(person["tags"])
                if (name.lower() if insensitive else name) not in held:
                    person["tags"].append(name)
            person["updatedAt"] = _now()
            self._save()
        return Response(201)

    def _remove_tag(self, request: Request, body: Any) -> Response:
        with self._lock:
            person, tag, error = self._target(body)
            if error:
                return error
            assert person is not None and tag is not None
            if self.modes.tag_case == "sensitive":
                removing = set(_split(tag))
                person["tags"] = [t for t in person["tags"] if t not in removing]
            else:  # one tag in any case: every spelling goes
                removing = {t.lower() for t in _split(tag)}
                person["tags"] = [t for t in person["tags"] if t.lower() not in removing]
            person["updatedAt"] = _now()
            self._save()
        return Response(204)
