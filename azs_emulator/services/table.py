"""The storage data plane's table service, at ``<account>.table.<region>.<fqdn>``: tables (create, query, delete,
stored access policies) and their entities (insert, get, query with ``$filter``, ``$select``, ``$top`` and
continuation, update, merge, insert-or-replace, insert-or-merge, delete, and all of them in a ``$batch``), in the service's JSON (OData, as the Table
service REST API reference describes each operation), authorized by the table form of Shared Key or a table SAS at the
service versions the release serves. Errors are OData JSON with ``x-ms-error-code``."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from typing import Any
from urllib.parse import quote, unquote

from azs_emulator.arm_core import Arm
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.routing import ANYONE, TABLE, Route, route
from azs_emulator.services import table_batch
from azs_emulator.services.blob_content import small_body
from azs_emulator.services.storage_auth import StorageError, admitted_store
from azs_emulator.services.storage_xml import done, parse_policies, policies_xml, service_properties, xml_answer
from azs_emulator.services.table_query import Entity, parse_filter

_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
_KEYS = r"\(PartitionKey='((?:[^']|'')*)',\s*RowKey='((?:[^']|'')*)'\)"
_ONE_ENTITY = re.compile(r"/([^/(]+)" + _KEYS)
_A_TABLE = re.compile(r"/([^/(]+)(?:\(\))?")
_JSON = "application/json;odata=minimalmetadata;streaming=true;charset=utf-8"
_MOST_PAGE = 1000
_SYSTEM = ("PartitionKey", "RowKey", "Timestamp")


class TableError(ArmError):
    """An error as the table service answers it (OData JSON)."""

    def response(self) -> Response:
        body = {"odata.error": {"code": self.code, "message": {"lang": "en-US", "value": self.message}}}
        return Response(self.status, body, {"x-ms-error-code": self.code}, content_type=_JSON)


def _as_table_error(error: StorageError) -> TableError:
    return TableError(error.status, error.code, error.message)


def _stamp() -> tuple[str, str]:
    """(Timestamp, ETag) of a write now."""
    moment = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    return moment, f"W/\"datetime'{quote(moment, safe='')}'\""


class TableService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self._accounts = arm.data["table_accounts"]
        self._batch: dict[str, Any] | None = None  # the account's tables while an admitted batch runs its operations

    def routes(self) -> list[Route]:
        table_route = functools.partial(route, listener=TABLE, auth=ANYONE, subscription=False)
        return [
            table_route("GET|PUT", r"/", self.account_root),
            table_route("POST", r"/\$batch", self.batch),
            table_route("GET|POST", r"/Tables", self.tables),
            table_route("GET|DELETE", r"/Tables\('([^']+)'\)", self.one_table),
            table_route("GET|PUT|PATCH|MERGE|DELETE", r"/([^/(]+)" + _KEYS, self.entity),
            table_route("GET|POST|PUT", r"/([^/(]+)(?:\(\))?", self.entities),
        ]

    def _admit(self, request: Request, needed: str | None, table: str = "") -> dict[str, Any]:
        """The account's tables, once the request's version and its Shared Key (table form) or table SAS (``needed``: r,
        a, u, d) hold."""
        if self._batch is not None:
            return self._batch
        try:
            return admitted_store(self.arm, self._accounts, request, "table", needed, table.lower())
        except StorageError as error:
            raise _as_table_error(error) from None

    def _table(self, store: dict[str, Any], name: str) -> dict[str, Any]:
        found = store["tables"].get(name.lower())
        if found is None:
            raise TableError(404, "TableNotFound", "The table specified does not exist.")
        return found

    def _answer(self, request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        """An answer with a body, or 204 when the client asked for none (``Prefer: return-no-content``)."""
        if request.headers.get("prefer", "") == "return-no-content":
            return Response(204, None, {**(headers or {}), "Preference-Applied": "return-no-content"}, content_type=None)
        if request.headers.get("prefer", "") == "return-content":
            headers = {**(headers or {}), "Preference-Applied": "return-content"}
        return Response(status, body, headers or {}, content_type=_JSON)

    # -- the account and its tables ---------------------------------------------------------------

    def account_root(self, request: Request) -> Response:
        """Get / Set Table Service Properties (XML, as for blobs and queues)."""
        if request.query.get("restype") != "service" or request.query.get("comp") != "properties":
            raise TableError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                             "request URI is invalid.")
        store = self._admit(request, None)
        return service_properties(request, store.setdefault("service_properties", {}), self.arm.save)

    def tables(self, request: Request) -> Response:
        """Create Table (POST) and Query Tables (GET, with ``$filter`` on TableName, ``$top`` and NextTableName)."""
        store = self._admit(request, None)
        base = f"https://{request.headers.get('host', '')}/"
        if request.method == "POST":
            body = _json_body(request)
            name = str(body.get("TableName", ""))
            if not _TABLE_NAME.fullmatch(name) or name.lower() == "tables":
                raise TableError(400, "InvalidResourceName", "The specifed resource name contains invalid characters.")
            if name.lower() in store["tables"]:
                raise TableError(409, "TableAlreadyExists", "The table specified already exists.")
            store["tables"][name.lower()] = {"name": name, "entities": {}, "policies": {}}
            self.arm.save()
            return self._answer(request, 201, {"odata.metadata": f"{base}$metadata#Tables/@Element", "TableName": name})
        rows = [{"TableName": t["name"]} for _, t in sorted(store["tables"].items())]
        if request.query.get("$filter"):
            test = parse_filter(request.query["$filter"])
            rows = [r for r in rows if test(r)]
        start = request.query.get("NextTableName", "")
        rows = [r for r in rows if r["TableName"].lower() >= start.lower()]
        top = _top(request)
        headers = {"x-ms-continuation-NextTableName": rows[top]["TableName"]} if len(rows) > top else {}
        return Response(200, {"odata.metadata": f"{base}$metadata#Tables", "value": rows[:top]}, headers, content_type=_JSON)

    def one_table(self, request: Request, name: str) -> Response:
        store = self._admit(request, None)
        found = self._table(store, unquote(name))
        if request.method == "DELETE":
            del store["tables"][unquote(name).lower()]
            self.arm.save()
            return Response(204, None, content_type=None)
        return Response(200, {"TableName": found["name"]}, content_type=_JSON)

    def batch(self, request: Request) -> Response:
        """An entity group transaction (:mod:`.table_batch`), with the account's key."""
        store = self._admit(request, None)
        self._batch = store
        try:
            return table_batch.run(request, store["tables"], self._step,
                                   lambda error: error.response() if isinstance(error, ArmError) else None)
        except ValueError as error:
            raise TableError(400, "InvalidInput", f"One of the request inputs is not valid: {error}.") from None
        finally:
            self._batch = None

    def _step(self, request: Request) -> Response:
        one = _ONE_ENTITY.fullmatch(request.path)
        if one:
            return self.entity(request, *one.groups())
        table = _A_TABLE.fullmatch(request.path)
        if table and request.method == "POST":
            return self.entities(request, table.group(1))
        raise TableError(400, "InvalidInput", f"One of the request inputs is not valid: {request.method} {request.path} "
                         "is no entity operation.")

    # -- entities --------------------------------------------------------------------------------

    def entities(self, request: Request, table: str) -> Response:
        """Insert Entity (POST), Query Entities (GET), Get / Set Table ACL (``comp=acl``)."""
        table = unquote(table)
        comp = request.query.get("comp")
        store = self._admit(request, None if comp == "acl" else {"POST": "a"}.get(request.method, "r"), table)
        found = self._table(store, table)
        if comp == "acl":
            if request.method == "PUT":
                found["policies"] = parse_policies(small_body(request))
                self.arm.save()
                return done(204)
            return xml_answer(policies_xml(found["policies"]))
        if request.method == "POST":
            entity = _json_body(request)
            key = _key(entity.get("PartitionKey"), entity.get("RowKey"))
            if _encoded(key) in found["entities"]:
                raise TableError(409, "EntityAlreadyExists", "The specified entity already exists.")
            stored = self._store(found, key, entity)
            return self._answer(request, 201, self._shown(request, found, stored), {"ETag": stored["odata.etag"]})
        rows = sorted(found["entities"].values(), key=lambda r: (r["PartitionKey"], r["RowKey"]))
        next_pk, next_rk = request.query.get("NextPartitionKey"), request.query.get("NextRowKey", "")
        if next_pk is not None:
            rows = [r for r in rows if (r["PartitionKey"], r["RowKey"]) >= (next_pk, next_rk)]
        if request.query.get("$filter"):
            test = parse_filter(request.query["$filter"])
            rows = [r for r in rows if test(r)]
        top = _top(request)
        headers = {"x-ms-continuation-NextPartitionKey": rows[top]["PartitionKey"],
                   "x-ms-continuation-NextRowKey": rows[top]["RowKey"]} if len(rows) > top else {}
        base = f"https://{request.headers.get('host', '')}/"
        return Response(200, {"odata.metadata": f"{base}$metadata#{found['name']}",
                              "value": [self._shown(request, found, r, element=False) for r in rows[:top]]},
                        headers, content_type=_JSON)

    def entity(self, request: Request, table: str, partition: str, row: str) -> Response:
        """Get (GET), Update or Insert-or-Replace (PUT), Merge or Insert-or-Merge (PATCH / MERGE), Delete: with
        ``If-Match`` the entity must exist with that ETag (or any, ``*``); without, PUT and PATCH insert it if absent."""
        table = unquote(table)
        needed = {"GET": "r", "DELETE": "d"}.get(request.method, "u")
        found = self._table(self._admit(request, needed, table), table)
        key = _key(unquote(partition).replace("''", "'"), unquote(row).replace("''", "'"))
        current = found["entities"].get(_encoded(key))
        condition = request.headers.get("if-match")
        if request.method == "GET":
            if current is None:
                raise TableError(404, "ResourceNotFound", "The specified resource does not exist.")
            return Response(200, self._shown(request, found, current), {"ETag": current["odata.etag"]}, content_type=_JSON)
        if condition is not None or request.method == "DELETE":
            if current is None:
                raise TableError(404, "ResourceNotFound", "The specified resource does not exist.")
            if condition not in (None, "*") and condition != current["odata.etag"]:
                raise TableError(412, "UpdateConditionNotSatisfied", "The update condition specified in the request was "
                                 "not satisfied.")
        if request.method == "DELETE":
            del found["entities"][_encoded(key)]
            self.arm.save()
            return Response(204, None, content_type=None)
        given = {**_json_body(request), "PartitionKey": key[0], "RowKey": key[1]}
        if request.method in ("PATCH", "MERGE") and current is not None:
            given = {**{k: v for k, v in current.items() if not k.startswith("odata.")}, **given}
        stored = self._store(found, key, given)
        return Response(204, None, {"ETag": stored["odata.etag"]}, content_type=None)

    def _store(self, found: dict[str, Any], key: tuple[str, str], entity: Entity) -> Entity:
        stamp, etag = _stamp()
        stored = {k: v for k, v in entity.items() if not k.startswith("odata.") and k not in ("Timestamp", "Timestamp@odata.type")}
        stored.update({"Timestamp": stamp, "Timestamp@odata.type": "Edm.DateTime", "odata.etag": etag})
        found["entities"][_encoded(key)] = stored
        self.arm.save()
        return stored

    @staticmethod
    def _shown(request: Request, found: dict[str, Any], entity: Entity, element: bool = True) -> Entity:
        """An entity as the service answers it: ``$select``ed, with the OData annotations ``Accept`` asks for."""
        selected = request.query.get("$select")
        shown = {k: v for k, v in entity.items()
                 if not selected or k.split("@", 1)[0] in {*selected.split(","), "odata.etag"}}
        if "odata=nometadata" in request.headers.get("accept", ""):
            return {k: v for k, v in shown.items() if "@odata." not in k and not k.startswith("odata.")}
        if element:
            base = f"https://{request.headers.get('host', '')}/"
            shown = {"odata.metadata": f"{base}$metadata#{found['name']}/@Element", **shown}
        return shown


def _key(partition: Any, row: Any) -> tuple[str, str]:
    if not isinstance(partition, str) or not isinstance(row, str):
        raise TableError(400, "PropertiesNeedValue", "The values are not specified for all properties in the entity.")
    return partition, row


def _encoded(key: tuple[str, str]) -> str:
    return json.dumps(list(key))


def _top(request: Request) -> int:
    text = request.query.get("$top", "")
    return min(int(text), _MOST_PAGE) if text.isdigit() and int(text) > 0 else _MOST_PAGE


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(small_body(request) or b"{}")
    except ValueError:
        raise TableError(400, "InvalidInput", "One of the request inputs is not valid.") from None
    if not isinstance(body, dict):
        raise TableError(400, "InvalidInput", "One of the request inputs is not valid.")
    return body
