"""Typed dataqueries the foundation SDK does not ship, registered with its runtime.

- ``CassandraQuery``: the hadesarchitect Cassandra datasource in raw-CQL mode. As its source
  shows (HadesArchitect/GrafanaCassandraDatasource, tag v3.2.0, commit 2aaa81a5): the frontend
  (``src/datasource.ts``, ``buildQueryParameters``) interpolates dashboard variables into
  ``target`` with Grafana's ``csv`` format (a multi-value variable becomes ``3,4``); the backend
  (``pkg/handler/data_query.go``, ``applyTimeRange``) replaces ``$__timeFrom``/``$__timeTo``
  (epoch ms) and ``$__unixEpochFrom``/``$__unixEpochTo`` (epoch s). The backend groups the rows
  by the first selected column (``pkg/cassandra/session.go``, ``Select``) into one frame per
  value, named by it, in Go map order, so the order of the frames changes from one query to the
  next (``pkg/plugin/plugin.go``, ``makeDataFrames``). ``alias`` (``{{column}}`` placeholders,
  filled from the frame's first row) becomes the display name of the frame's numeric fields.
- ``LiveQuery``: the built-in Grafana datasource subscribed to a Grafana Live channel
  (``queryType: measurements``), optionally keeping only some fields.

Registering both lets ``Dashboard.from_json`` turn generated JSON back into these types (the
round trip the tests use to prove the files are what the builders describe).
"""

from __future__ import annotations

import typing

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import datasource as sdk_datasource
from grafana_foundation_sdk.models.common import DataSourceRef

CASSANDRA_TYPE = "hadesarchitect-cassandra-datasource"
CASSANDRA_UID = "p424-cassandra"
PROMETHEUS_TYPE = "prometheus"
PROMETHEUS_UID = "p424-prometheus"
# The built-in "-- Grafana --" datasource, as Grafana itself writes its reference into dashboards.
GRAFANA_TYPE = "datasource"
GRAFANA_UID = "grafana"
MIXED_UID = "-- Mixed --"


def cassandra_ref() -> DataSourceRef:
    return DataSourceRef(type_val=CASSANDRA_TYPE, uid=CASSANDRA_UID)


def prometheus_ref() -> DataSourceRef:
    return DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)


def grafana_ref() -> DataSourceRef:
    return DataSourceRef(type_val=GRAFANA_TYPE, uid=GRAFANA_UID)


def mixed_ref() -> DataSourceRef:
    return DataSourceRef(type_val=GRAFANA_TYPE, uid=MIXED_UID)


class CassandraQuery(cogvariants.Dataquery):
    def __init__(
        self,
        ref_id: str = "A",
        target: str = "",
        alias: str = "",
        hide: bool = False,
        datasource: DataSourceRef | None = None,
    ) -> None:
        self.ref_id = ref_id
        self.target = target
        self.alias = alias
        self.hide = hide
        self.datasource = datasource or cassandra_ref()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": self.datasource,
            "queryType": "query",
            "rawQuery": True,
            "target": self.target,
        }
        if self.alias:
            out["alias"] = self.alias
        if self.hide:
            out["hide"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        if data.get("rawQuery") is not True:
            raise ValueError("only raw CQL queries are generated (rawQuery: true)")
        ds = DataSourceRef.from_json(data["datasource"]) if "datasource" in data else None
        return cls(data.get("refId", "A"), data.get("target", ""), data.get("alias", ""), bool(data.get("hide")), ds)


class LiveQuery(cogvariants.Dataquery):
    def __init__(
        self, ref_id: str = "A", channel: str = "", fields: list[str] | None = None, buffer_ms: int | None = None
    ) -> None:
        self.ref_id = ref_id
        self.channel = channel
        self.fields = list(fields or [])
        self.buffer_ms = buffer_ms

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": grafana_ref(),
            "queryType": "measurements",
            "channel": self.channel,
        }
        if self.fields:
            # "time" is kept so a field filter still yields a time series.
            out["filter"] = {"fields": ["time", *self.fields]}
        if self.buffer_ms is not None:
            out["buffer"] = self.buffer_ms
        return out

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        fields = [f for f in data.get("filter", {}).get("fields", []) if f != "time"]
        return cls(data.get("refId", "A"), data.get("channel", ""), fields, data.get("buffer"))


class Cql(cogbuilder.Builder[CassandraQuery]):
    """Builder of a raw CQL query for the Cassandra datasource."""

    def __init__(self, cql: str) -> None:
        self._internal = CassandraQuery(target=" ".join(cql.split()))

    def build(self) -> CassandraQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        self._internal.ref_id = ref_id
        return self

    def alias(self, alias: str) -> typing.Self:
        self._internal.alias = alias
        return self


class Live(cogbuilder.Builder[LiveQuery]):
    """Builder of a Grafana Live subscription (``stream/<stream>/<measurement>``)."""

    def __init__(self, channel: str) -> None:
        self._internal = LiveQuery(channel=channel)

    def build(self) -> LiveQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        self._internal.ref_id = ref_id
        return self

    def fields(self, fields: list[str]) -> typing.Self:
        self._internal.fields = list(fields)
        return self

    def buffer_ms(self, buffer_ms: int) -> typing.Self:
        self._internal.buffer_ms = buffer_ms
        return self


def _grafana_datasource_query(data: dict[str, typing.Any]) -> cogvariants.Dataquery:
    # "-- Grafana --", "-- Dashboard --" and "-- Mixed --" all have type "datasource"; in a mixed
    # panel each target names its own datasource.
    own = (data.get("datasource") or {}).get("type", "")
    if own and own != GRAFANA_TYPE:
        return cogruntime.dataquery_from_json(data, own)
    if data.get("queryType") == "measurements":
        return LiveQuery.from_json(data)
    return sdk_datasource.Dataquery.from_json(data)


def register() -> None:
    """Make the SDK's unmarshalling produce these types (idempotent)."""
    from grafana.sdk import register_default_plugins

    register_default_plugins()
    cogruntime.register_dataquery_variant(cogruntime.DataqueryConfig(CASSANDRA_TYPE, CassandraQuery.from_json))
    cogruntime.register_dataquery_variant(cogruntime.DataqueryConfig(GRAFANA_TYPE, _grafana_datasource_query))
