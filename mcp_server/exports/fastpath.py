"""The typed fast path: frequent events decoded straight into small structs by msgspec.

Each struct declares only the fields the index needs, with exact types and ranges, so msgspec skips
everything else (headers, bodies) in C and refuses any line that is not exactly what the struct
says. A refused line goes to the general path (shapes.py), which reads anything; for every line
this path accepts, it makes the same sink calls the general path would (a property test checks
this). Lines that are not pure ASCII always take the general path: msgspec does not check UTF-8
inside the fields it skips, and the general path's verdict on such lines must stand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import orjson

from mcp_server.exports.shapes import ARGS_KEPT, LEVEL_CHARS, MAX_MS, EventSink, to_ms

Time = Annotated[int, msgspec.Meta(ge=0, le=MAX_MS)]
Int64 = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]
Text = Annotated[str, msgspec.Meta(min_length=1)]  # the general path treats "" as missing


class Refused(Exception):
    """The line is not one this path reads exactly as the general path would; nothing was recorded."""


# -- shape B: SDK events, tagged by "type" -----------------------------------------------------------


class _RequestData(msgspec.Struct, gc=False):
    reqId: str
    method: Text
    url: str


class _ResponseData(msgspec.Struct, gc=False):
    reqId: str
    status: Int64
    method: str | None = None


class _LogData(msgspec.Struct, gc=False):
    logLevel: Text
    args: list[str]


class _ExceptionData(msgspec.Struct, gc=False):
    errorType: str | None = None
    exceptionType: str | None = None
    message: str | None = None
    browserHref: str | None = None
    stackTrace: str | None = None
    stack: str | None = None


class _CustomData(msgspec.Struct, gc=False):
    name: str | None = None
    properties: msgspec.Raw = msgspec.Raw(b"{}")


class _NavigationData(msgspec.Struct, gc=False):
    href: Text


class SdkRequest(msgspec.Struct, gc=False, tag_field="type", tag="lr.network.RequestEvent"):
    time: Time
    data: _RequestData

    def feed(self, sink: EventSink, line: bytes) -> None:
        d = self.data
        sink.request(self.time, d.reqId, d.method, d.url)


class SdkResponse(msgspec.Struct, gc=False, tag_field="type", tag="lr.network.ResponseEvent"):
    time: Time
    data: _ResponseData

    def feed(self, sink: EventSink, line: bytes) -> None:
        d = self.data
        sink.response(self.time, d.reqId, d.status, d.method)


class SdkLog(msgspec.Struct, gc=False, tag_field="type", tag="lr.core.LogEvent"):
    time: Time
    data: _LogData

    def feed(self, sink: EventSink, line: bytes) -> None:
        d = self.data
        sink.console(self.time, d.logLevel[:LEVEL_CHARS].upper(), " ".join(d.args[:ARGS_KEPT]))


class SdkException(msgspec.Struct, gc=False, tag_field="type", tag="lr.core.Exception"):
    time: Time
    data: _ExceptionData

    def feed(self, sink: EventSink, line: bytes) -> None:
        d = self.data
        sink.exception(
            self.time,
            d.errorType or d.exceptionType or "Error",
            d.message or "",
            d.browserHref,
            d.stackTrace or d.stack,
        )


class SdkCustom(msgspec.Struct, gc=False, tag_field="type", tag="lr.CustomEvent"):
    time: Time
    data: _CustomData

    def feed(self, sink: EventSink, line: bytes) -> None:
        d = self.data
        # Properties are parsed the general path's way (orjson), so their values are the same.
        try:
            properties = orjson.loads(memoryview(d.properties))
        except orjson.JSONDecodeError:
            raise Refused from None
        sink.custom(self.time, d.name or "(unnamed)", properties if isinstance(properties, dict) else {})


class SdkNavigation(msgspec.Struct, gc=False, tag_field="type", tag="lr.Navigation"):
    time: Time
    data: _NavigationData

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.navigation(self.time, self.data.href)


class SdkClick(msgspec.Struct, gc=False, tag_field="type", tag="lr.Click"):
    time: Time

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.click(self.time)


class SdkInput(msgspec.Struct, gc=False, tag_field="type", tag="lr.InputChange"):
    time: Time

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.input(self.time)


class SdkRedux(msgspec.Struct, gc=False, tag_field="type", tag="lr.redux.ReduxAction"):
    time: Time

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.redux(self.time)


SdkFast = SdkRequest | SdkResponse | SdkLog | SdkException | SdkCustom | SdkNavigation | SdkClick | SdkInput | SdkRedux


# -- shape A: Streaming Data Export rows, tagged by "event_type" --------------------------------------


class RowClick(msgspec.Struct, gc=False, tag_field="event_type", tag="click"):
    session_time: Text

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.click(to_ms(self.session_time))


class RowDeadClick(msgspec.Struct, gc=False, tag_field="event_type", tag="deadClick"):
    session_time: Text

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.click(to_ms(self.session_time))


class RowInput(msgspec.Struct, gc=False, tag_field="event_type", tag="inputChange"):
    session_time: Text

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.input(to_ms(self.session_time))


class RowRedux(msgspec.Struct, gc=False, tag_field="event_type", tag="reduxAction"):
    session_time: Text

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.redux(to_ms(self.session_time))


class RowNavigation(msgspec.Struct, gc=False, tag_field="event_type", tag="navigation"):
    session_time: Text
    navigation_href: Text

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.navigation(to_ms(self.session_time), self.navigation_href)


class RowNetwork(msgspec.Struct, gc=False, tag_field="event_type", tag="networkResponse"):
    session_time: Text
    network_response_method: Text
    network_response_url: Text
    network_response_status: Int64
    network_response_duration_ms: Int64

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.network(
            to_ms(self.session_time),
            self.network_response_method,
            self.network_response_url,
            self.network_response_status,
            self.network_response_duration_ms,
        )


class RowConsole(msgspec.Struct, gc=False, tag_field="event_type", tag="consoleLog"):
    """Console rows are not a documented row type: kept as "other", like the general path does."""

    session_time: Text

    def feed(self, sink: EventSink, line: bytes) -> None:
        sink.other(to_ms(self.session_time), "consoleLog", line)


RowFast = RowClick | RowDeadClick | RowInput | RowRedux | RowNavigation | RowNetwork | RowConsole

# msgspec raises RecursionError for nesting deeper than it will follow (even in a field it skips).
DecodeFailed = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


FastEvent = SdkFast | RowFast


class FastDecoder:
    """One shape's typed decoder. The index builder inlines ``feed`` in its loop; this is the reference."""

    def __init__(self, union: Any) -> None:
        self.decode: Callable[[bytes], FastEvent] = msgspec.json.Decoder(union).decode

    def feed(self, line: bytes, sink: EventSink) -> bool:
        """True when the line was read here; False to hand it to the general path (nothing recorded then)."""
        if not line.isascii():
            return False
        try:
            event = self.decode(line)
        except DecodeFailed:
            return False
        try:
            event.feed(sink, line)
        except Refused:
            return False
        return True


FAST_DECODERS: dict[str, FastDecoder] = {
    "sdk-event": FastDecoder(SdkFast),
    "streaming-row": FastDecoder(RowFast),
}
