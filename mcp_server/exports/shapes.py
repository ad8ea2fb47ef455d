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

import itertools
import json
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


# Epoch milliseconds outside 1970..9999 cannot be shown as dates: such a time is unknown, not fatal.
MAX_MS = 253_402_300_799_999
_INT64 = 1 << 63
_INT_TEXT = re.compile(r"\s*-?[0-9]{1,18}\s*")  # ASCII digits only: "²".isdigit() is True
LEVEL_CHARS = 20
ARGS_KEPT = 20  # console arguments joined into the message


def valid_ms(t: int) -> int | None:
    return t if 0 <= t <= MAX_MS else None


def to_ms(value: Any) -> int | None:
    """Epoch milliseconds from a number, a numeric string or an ISO-8601 string; None otherwise (never raises)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value) if -_INT64 < value < _INT64 else math.inf
    elif isinstance(value, str):
        if len(value) > 64:
            return None
        if ":" in value:  # a time of day: not a number (saves raising ValueError for every ISO string)
            return _iso_ms(value)
        try:
            number = float(value)
        except ValueError:
            return _iso_ms(value)
    else:
        return None
    if not math.isfinite(number):
        return None
    if abs(number) < 1e11:  # seconds
        number *= 1000
    return valid_ms(int(number))


def _iso_ms(value: str) -> int | None:
    try:
        return valid_ms(int(datetime.fromisoformat(value).timestamp() * 1000))
    except (ValueError, OverflowError, OSError):
        return None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json_text(value)


def json_text(value: Any) -> str:
    """JSON text for a parsed value; values orjson refuses (huge integers, lone surrogates) via the stdlib."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        pass
    try:
        return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "replace").decode()
    except (ValueError, RecursionError):
        return "(nested too deeply to show)"


def _first(obj: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = obj.get(key)
        if value is not None and value != "":
            return value
    return None


def _int(value: Any) -> int | None:
    """An integer field (status, duration) within 64 bits; None for anything else, never raising."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and -_INT64 < value < _INT64 else None
    if isinstance(value, str) and len(value) <= 40 and _INT_TEXT.fullmatch(value):
        return int(value)
    return None


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = parse_line(value.encode())
        except BadLine:  # a column of JSON text that is not JSON: nothing to read in it, the event still counts
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


class BadLine(Exception):
    """A line that is not JSON; ``why`` is the ParseStats counter it belongs to."""

    def __init__(self, why: str) -> None:
        self.why = why


def parse_line(line: bytes) -> Any:
    """Parse one JSON value, as leniently as JSON allows; raise BadLine when it is not JSON.

    orjson first; for what it refuses, the standard library, which reads numbers of any size (``1e999``
    becomes infinity, an integer past 64 bits stays one): those are valid JSON, and one odd value must
    not cost the whole event. Such values are then made what orjson would give (floats; lone
    surrogates replaced) so that everything downstream can encode them.
    """
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        pass
    if not line.strip():
        raise BadLine("blank")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise BadLine("not_utf8") from None
    try:
        return _orjson_like(json.loads(text, parse_constant=_no_constants, parse_int=_parse_int))
    except (ValueError, RecursionError):
        raise BadLine("invalid_json") from None


def _parse_int(digits: str) -> int | float:
    # Like orjson: an integer too long for 64 bits is a float (and int() refuses over 4,300 digits).
    return int(digits) if len(digits) <= 21 else float(digits)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _orjson_like(value: Any) -> Any:
    if isinstance(value, str):
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < 1 << 64 else float(value)
    if isinstance(value, dict):
        return {_orjson_like(k): _orjson_like(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_orjson_like(v) for v in value]
    return value


class StreamingRow:
    """Shape A: Streaming Data Export rows."""

    name = "streaming-row"

    def matches(self, obj: dict[str, Any]) -> bool:
        return "event_type" in obj

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


def _sdk_request(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    sink.request(t, _text(data.get("reqId")), _text(data.get("method") or "GET"), _text(data.get("url")))


def _sdk_response(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    sink.response(t, _text(data.get("reqId")), _int(data.get("status")), data.get("method"))


def _sdk_log(t: int | None, data: dict[str, Any], line: bytes, sink: EventSink) -> None:
    args = data.get("args")
    message = " ".join(_text(a) for a in args[:ARGS_KEPT]) if isinstance(args, list) else _text(args)
    sink.console(t, _text(data.get("logLevel") or "LOG")[:LEVEL_CHARS].upper(), message)


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

    def feed(self, obj: dict[str, Any], line: bytes, sink: EventSink) -> None:
        kind = str(obj.get("type", obj.get("eventType")))
        t = obj.get("time")
        t = valid_ms(t) if type(t) is int else to_ms(_first(obj, "time", "timestamp", "ts"))
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

    def feed(self, obj: dict[str, Any], line: bytes, sink: EventSink) -> None:
        label = _first(obj, "type", "eventType", "event_type", "kind", "event")
        if not isinstance(label, str):
            keys = ", ".join(str(key)[:40] for key in itertools.islice(obj, 3))
            label = f"(no type; keys {keys or 'none'})"
        sink.other(to_ms(_first(obj, "time", "timestamp", "ts", "session_time")), label, line)


SHAPES: tuple[Shape, ...] = (StreamingRow(), SdkEvent(), UnknownLine())
