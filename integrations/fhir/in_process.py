"""An httpx transport that hands each request to an aiohttp application in this process.

Like httpx's ASGI transport: no socket, no TCP round trip. The request becomes an aiohttp
`web.Request` given to the application's own router, so it goes through the same handler,
authentication and audit as a request from the network; the response the handler returns
is written out through aiohttp's own `prepare`/`write_eof` into memory.

    transport = AiohttpAppTransport(fhir_app)
    http = httpx.AsyncClient(transport=transport, base_url="http://carebot/fhir")

The application must be started (frozen, its startup signals run): mounted in a running
app, or run by an `AppRunner` without a site.
"""

from __future__ import annotations

import asyncio

import httpx
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

_READ_LIMIT = 2**16
_DROPPED_HEADERS = frozenset({"transfer-encoding", "connection", "keep-alive"})


class _InProcessPeer(BaseProtocol):
    """What aiohttp's request and body reader ask of their connection: nothing is on a wire."""

    ssl_context = None
    peername = None
    sockname = None
    max_field_size = 8190
    max_line_length = 8190
    max_headers = 128

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)


class _MemoryWriter(AbstractStreamWriter):
    """Collects the status line, headers and body the handler's response writes."""

    def __init__(self) -> None:
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Keep CHUNK."""
        self.chunks.append(bytes(chunk))
        self.output_size += len(chunk)

    async def write_eof(self, chunk: bytes = b"") -> None:
        """Keep the last CHUNK."""
        if chunk:
            await self.write(chunk)

    async def drain(self) -> None:
        """Nothing to flush: the body is in memory."""

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        """Refused: no compression in process (we never ask for it)."""
        raise RuntimeError("in-process responses are not compressed")

    def enable_chunking(self) -> None:
        """The body is collected whole; chunked framing is left out."""

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        """Keep the headers."""
        self.headers = CIMultiDict(headers)


class AiohttpAppTransport(httpx.AsyncBaseTransport):
    """Serve httpx requests with APP's handlers, in process."""

    def __init__(self, app: web.Application, *, client_max_size: int = 1024**2) -> None:
        self._app = app
        self._client_max_size = client_max_size

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run REQUEST through the application; its response."""
        loop = asyncio.get_running_loop()
        body = await request.aread()
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.multi_items() if k.lower() != "accept-encoding"
        )
        target = request.url.raw_path.decode("ascii")
        message = RawRequestMessage(
            request.method,
            target,
            HttpVersion11,
            CIMultiDictProxy(headers),
            tuple((k.encode(), v.encode()) for k, v in headers.items()),
            False,
            None,
            False,
            False,
            URL(target, encoded=True),
        )
        peer = _InProcessPeer(loop)
        payload: StreamReader = EMPTY_PAYLOAD
        if body:
            payload = StreamReader(peer, max(_READ_LIMIT, len(body)), loop=loop)
            payload.feed_data(body)
            payload.feed_eof()
        writer = _MemoryWriter()
        task = asyncio.current_task()
        assert task is not None
        web_request = web.Request(
            message,
            payload,
            peer,  # type: ignore[arg-type]  # a RequestHandler's attributes, without a socket
            writer,
            task,
            loop,
            client_max_size=self._client_max_size,
            scheme=request.url.scheme,
            host=request.url.netloc.decode("ascii"),
            remote="in-process",
        )
        try:
            # Application._handle is what aiohttp's server calls for each request: routing,
            # sub-app resolution and middlewares, the same path as a network request.
            response = await self._app._handle(web_request)
        except web.HTTPException as error:
            response = error
        if not response.prepared:
            await response.prepare(web_request)
            await response.write_eof()
        kept = [(k, v) for k, v in writer.headers.items() if k.lower() not in _DROPPED_HEADERS]
        return httpx.Response(
            response.status, headers=kept, content=b"".join(writer.chunks), request=request
        )
