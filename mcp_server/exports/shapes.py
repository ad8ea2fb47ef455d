"""Export line shapes: each turns one parsed JSON line into calls on an ``EventSink``.

LogRocket does not document the export file format, so we recognise what is plausible and pass the
rest through (counted by type, kept for ``focus="other"``):

- ``StreamingRow`` (shape A): rows like the Streaming Data Export table, keyed by ``event_type`` with
  flat ``<kind>_*`` columns; timestamps are ISO strings or epoch numbers; custom-event properties
  are JSON strings (or objects) mapping a name to a list of values.
- ``SdkEvent`` (shape B): the browser SDK's vocabulary, ``{"type": "lr.…", "time": ms, "data": {…}}``;
  network requests and responses are separate events paired by ``reqId`` (the sink does that).

A new shape is one class with ``matches`` and ``feed``, added to ``SHAPES``.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Protocol

import orjson


class EventSink(Protocol):
    def meta(self, t: int | None, fields: dict[str, Any]) -> None: ...
    def identify(
        self, t: int | None, user_id: str | None, name: str | None, email: str | None, traits: dict[str, Any]
    ) -> None: ...
    def navigation(self, t: int | None, href: str) -> None: ...
    def click(self, t: int | None) -> None: ...
    def input(self, t: int | None) -> None: ...
    def console(self, t: int | None, level: str, message: str) -> None: ...
    def request(self, t: int | None, req_id: str, method: str, url: str) -> None: ...
    def response(self, t: int | None, req_id: str, status: int | None, method: str | None) -> None: ...
    def network(self, t: int | None, method: str, url: str, status: int | None, duration: int | None) -> None: ...
    def exception(self, t: int | None, error_type: str, message: str, page: str | None, stack: str | None) -> None: ...
    def custom(self, t: int | None, name: str, properties: dict[str, Any]) -> None: ...
    def redux(self, t: int | None) -> None: ...
    def other(self, t: int | None, type_name: str, line: bytes) -> None: ...


class Shape(Protocol):
    name: str

    def matches(self, obj: dict[str, Any]) -> bool: ...
    def feed(self, obj: dict[str, Any], line: bytes, sink: EventSink) -> None: ...
    def sniff(self, line: bytes, sink: EventSink) -> bool:
        """Fast path: handle the line from its bytes alone and return True, or return False to have it parsed.

        Only for lines whose meaning is unambiguous from their bytes; anything unusual is left to the parser.
        """
        ...


def to_ms(value: Any) -> int | None:
    """Epoch milliseconds from a number, a numeric string or an ISO-8601 string; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            try:
                return int(datetime.fromisoformat(value).timestamp() * 1000)
            except ValueError:
                return None
    else:
        return None
    if number < 1e11:  # seconds
        number *= 1000
    return int(number)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def _first(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = obj.get(key)
        if value is not None and value != "":
            return value
    return None


_INT_TEXT = re.compile(r"\s*-?[0-9]{1,18}\s*")
_INT_LIMIT = 2**53  # statuses and durations; anything past this is not one, and would not survive JSON anyway


def _int(value: Any) -> int | None:
    """A whole number from an int, a finite float or ASCII digits; None for anything else or out of range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) else None
    elif isinstance(value, str):
        value = int(value) if _INT_TEXT.fullmatch(value) else None
    if isinstance(value, int) and -_INT_LIMIT <= value <= _INT_LIMIT:
        return value
    return None


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


_ROW_COUNTED = {b"click": "click", b"deadClick": "click", b"inputChange": "input", b"reduxAction": "redux"}
_ROW_KIND = re.compile(rb'"event_type":"([A-Za-z]{1,40})"')
_ROW_TIME = re.compile(rb'"session_time":"([^"]{10,40})"')


def _count(sink: EventSink, kind: str, t: int | None) -> None:
    if kind == "click":
        sink.click(t)
    elif kind == "input":
        sink.input(t)
    else:
        sink.redux(t)


class StreamingRow:
    """Shape A: Streaming Data Export rows."""

    name = "streaming-row"

    def matches(self, obj: dict[str, Any]) -> bool:
        return "event_type" in obj

    def sniff(self, line: bytes, sink: EventSink) -> bool:
        """Clicks, inputs and Redux actions are only counted: read their kind and time from the bytes."""
        found = _ROW_KIND.search(line)
        kind = _ROW_COUNTED.get(found.group(1)) if found else None
        if kind is None or not line.startswith(b"{") or not line.rstrip().endswith(b"}"):
            return False
        when = _ROW_TIME.search(line)
        _count(sink, kind, to_ms(when.group(1).decode()) if when else None)
        return True

    def feed(self, obj: dict[str, Any], line: bytes, sink: EventSink) -> None:
        kind = obj["event_type"]
        t = to_ms(_first(obj, "session_time", "video_time", "timestamp", "updated_at"))
        if kind == "click" or kind == "deadClick":
            sink.click(t)
        elif kind == "navigation":
            sink.navigation(t, _text(_first(obj, "navigation_href", "href", "url")))
        elif kind == "networkResponse":
            sink.network(
                t,
                _text(_first(obj, "network_response_method", "network_method", "method") or "GET"),
                _text(_first(obj, "network_response_url", "network_url", "url")),
                _int(_first(obj, "network_response_status", "network_status", "status", "status_code")),
                _int(
                    _first(obj, "network_response_duration_ms", "network_response_duration", "duration_ms", "duration")
                ),
            )
        elif kind == "exception":
            message = _text(_first(obj, "exception_message", "error_message", "message"))
            error_type = _text(_first(obj, "exception_error_type", "error_type"))
            if not error_type and ": " in message[:80]:
                error_type, message = message.split(": ", 1)
            sink.exception(
                t,
                error_type or _text(_first(obj, "exception_type")) or "Error",
                message,
                _first(obj, "exception_href", "href", "navigation_href"),
                _first(obj, "exception_stack", "stack"),
            )
        elif kind == "customEvent":
            properties: dict[str, Any] = {}
            for column in (
                "custom_event_string_properties",
                "custom_event_bool_properties",
                "custom_event_double_properties",
                "custom_event_properties",
            ):
                for key, values in _json_object(obj.get(column)).items():
                    # Each property arrives as a list of values; one value reads better bare.
                    properties[key] = values[0] if isinstance(values, list) and len(values) == 1 else values
            sink.custom(t, _text(_first(obj, "custom_event_name", "name")) or "(unnamed)", properties)
        elif kind == "user":
            sink.identify(
                t,
                _first(obj, "user_id"),
                _first(obj, "user_name"),
                _first(obj, "user_email"),
                _json_object(obj.get("user_traits")),
            )
        elif kind == "session":
            fields = {k: v for k, v in obj.items() if k.startswith("session_") and k not in ("session_time",)}
            for key in ("app_id", "app_name", "user_id", "user_identity_status", "tab_id"):
                if key in obj:
                    fields[key] = obj[key]
            sink.meta(t, fields)
        elif kind == "inputChange":
            sink.input(t)  # the typed text is the user's own input: counted, never shown
        elif kind == "reduxAction":
            sink.redux(t)
        else:
            sink.other(t, str(kind), line)


_NAVIGATION_WORDS = ("Navigation", "PageView", "Location")
_SDK_TIME = re.compile(rb'"time":(\d{9,16})')  # right after the type
# Event types that are only counted: recognised from the line's first bytes, without parsing it.
_SDK_COUNTED = {b"lr.Click": "click", b"lr.InputChange": "input", b"lr.redux.ReduxAction": "redux"}
_SDK_NETWORK = {b"lr.network.RequestEvent", b"lr.network.ResponseEvent"}
# "key":"string" or "key":number, for the flat fields at the start of a network event.
_SDK_FIELD = re.compile(rb'"(reqId|url|method|status)":(?:"((?:[^"\\]|\\.)*)"|(\d+))')
_SDK_PREFIX = b'{"type":"lr.'
_CLOSERS = (b"}", b"}\r")


def _sdk_request(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    sink.request(t, _text(data.get("reqId")), _text(data.get("method") or "GET"), _text(data.get("url")))


def _sdk_response(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    sink.response(t, _text(data.get("reqId")), _int(data.get("status")), data.get("method"))


def _sdk_log(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    args = data.get("args")
    message = " ".join(_text(a) for a in args) if isinstance(args, list) else _text(args)
    sink.console(t, _text(data.get("logLevel") or "LOG").upper(), message)


def _sdk_exception(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    sink.exception(
        t,
        _text(data.get("errorType")) or _text(data.get("exceptionType")) or "Error",
        _text(data.get("message")),
        data.get("browserHref"),
        _first(data, "stackTrace", "stack"),
    )


def _sdk_custom(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    props = data.get("properties")
    sink.custom(t, _text(data.get("name")) or "(unnamed)", props if isinstance(props, dict) else {})


def _sdk_identify(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    traits = data.get("traits")
    sink.identify(
        t,
        _first(data, "id", "userID", "userId", "uid"),
        data.get("name"),
        data.get("email"),
        traits if isinstance(traits, dict) else {},
    )


def _sdk_meta(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    sink.meta(t, data)


_SDK_HANDLERS = {
    "lr.network.RequestEvent": _sdk_request,
    "lr.network.ResponseEvent": _sdk_response,
    "lr.core.LogEvent": _sdk_log,
    "lr.core.Exception": _sdk_exception,
    "lr.CustomEvent": _sdk_custom,
    "lr.Identify": _sdk_identify,
    "lr.Metadata": _sdk_meta,
}


class SdkEvent:
    """Shape B: the SDK's ``lr.*`` events."""

    name = "sdk-event"

    def matches(self, obj: dict[str, Any]) -> bool:
        kind = obj.get("type", obj.get("eventType"))
        return isinstance(kind, str) and kind.startswith("lr.")

    def sniff(self, line: bytes, sink: EventSink) -> bool:
        """Counted events, and network events up to their headers, read from the bytes; the rest is parsed.

        Network events carry headers and bodies (often most of a file's bytes) that the index never
        needs; reading reqId, method, url and status from the part before them saves parsing the rest.
        A complete object ends with "}": damaged lines are left to the parser, which reports them.
        """
        if not line.startswith(_SDK_PREFIX) or not line.endswith(_CLOSERS):
            return False
        end = line.find(b'"', 9)
        kind = line[9:end]
        counted = _SDK_COUNTED.get(kind)
        if counted is None:
            if kind not in _SDK_NETWORK:
                return False
            return self._sniff_network(line, kind, end, sink)
        found = _SDK_TIME.match(line, end + 2)
        _count(sink, counted, int(found.group(1)) if found else None)
        return True

    @staticmethod
    def _sniff_network(line: bytes, kind: bytes, end: int, sink: EventSink) -> bool:
        head_end = line.find(b'"headers":', end, end + 4096)
        if head_end < 0:
            return False
        found = _SDK_TIME.match(line, end + 2)
        t = int(found.group(1)) if found else None
        fields = {key: text or number for key, text, number in _SDK_FIELD.findall(line, end, head_end)}
        req_id = fields.get(b"reqId")
        if not req_id or b"\\" in req_id:
            return False
        if kind == b"lr.network.RequestEvent":
            url, method = fields.get(b"url"), fields.get(b"method")
            if url is None or method is None or b"\\" in url:
                return False
            sink.request(t, req_id.decode(), method.decode(), url.decode("utf-8", "replace"))
            return True
        status = fields.get(b"status")
        if status is None or not status.isdigit():
            return False
        method = fields.get(b"method")
        sink.response(t, req_id.decode(), int(status), method.decode() if method else None)
        return True

    def feed(self, obj: dict[str, Any], line: bytes, sink: EventSink) -> None:
        kind = str(obj.get("type", obj.get("eventType")))
        t = obj.get("time")
        if type(t) is not int:
            t = to_ms(_first(obj, "time", "timestamp", "ts"))
        data = obj.get("data")
        if type(data) is not dict:
            payload = obj.get("payload")
            data = payload if isinstance(payload, dict) else {}
        handler = _SDK_HANDLERS.get(kind)
        if handler is not None:
            handler(t, data, line, sink)
        elif kind.startswith("lr.redux."):
            sink.redux(t)
        elif any(word in kind for word in _NAVIGATION_WORDS) and _first(data, "href", "url"):
            sink.navigation(t, _text(_first(data, "href", "url")))
        elif "Click" in kind or "Touch" in kind:
            sink.click(t)
        elif "Input" in kind:
            sink.input(t)
        else:
            sink.other(t, kind, line)


class UnknownLine:
    """Anything else: counted under its ``type``/``event_type``/``kind`` value, or its first key."""

    name = "unknown"

    def matches(self, obj: dict[str, Any]) -> bool:
        return True

    def sniff(self, line: bytes, sink: EventSink) -> bool:
        return False

    def feed(self, obj: dict[str, Any], line: bytes, sink: EventSink) -> None:
        label = _first(obj, "type", "eventType", "event_type", "kind", "event")
        if not isinstance(label, str):
            label = f"(no type; keys {', '.join(list(obj)[:3]) or 'none'})"
        sink.other(to_ms(_first(obj, "time", "timestamp", "ts", "session_time")), label, line)


SHAPES: tuple[Shape, ...] = (StreamingRow(), SdkEvent(), UnknownLine())
