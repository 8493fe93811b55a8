"""HTTP transport for the simulator on the standard library's http.server (no hand-rolled
parsing), because socket-level faults (resets, truncated bodies) need control of the socket.
"""

from __future__ import annotations

import gzip
import logging
import socket
import struct
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from arbitrage_cli.simulator.app import KeepaSimulator, dumps

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid a 40 ms stall
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        # The default prints the request line, which carries the key: log the path only.
        log.debug("simulator %s %s", self.command, urllib.parse.urlsplit(self.path).path)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(None)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length) if length else b"")

    def _dispatch(self, body: bytes | None) -> None:
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query,
                                                             keep_blank_values=True).items()}
        resp = self.server.sim.handle(self.command, url.path, params, body)
        if resp.action == "reset":
            # SO_LINGER 0: close() sends RST, the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if resp.delay_s:
            time.sleep(resp.delay_s)
        data = resp.body if resp.body is not None else dumps(resp.payload or {})
        ctype = "text/html" if resp.body is not None else "application/json;charset=UTF-8"
        gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if gz:
            data = gzip.compress(data, compresslevel=1)
        try:
            self.send_response(resp.status)
            self.send_header("Content-Type", ctype)
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if resp.action == "truncate":
                self.wfile.write(data[: max(1, len(data) // 2)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (timeout): nothing to do


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (after their connections are shut), so none logs
    # after its owner stopped it (a test's captured output is closed by then).
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    sim: KeepaSimulator

    def __init__(self, *args, **kwargs):
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every handler waiting on a kept-alive connection: it reads EOF and ends."""
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SimulatorServer:
    """`with SimulatorServer(sim) as server: client = KeepaClient(key, base_url=server.url)`"""

    def __init__(self, sim: KeepaSimulator, host: str = "127.0.0.1", port: int = 0):
        self.sim = sim
        self._httpd = _Server((host, port), _Handler)
        self._httpd.sim = sim
        self.host, self.port = self._httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> SimulatorServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="keepa-simulator")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorServer:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_simulator(sim: KeepaSimulator | None = None, host: str = "127.0.0.1", port: int = 0,
                    **kwargs) -> SimulatorServer:
    """Start a simulator on a free loopback port in a background thread."""
    return SimulatorServer(sim or KeepaSimulator(**kwargs), host, port).start()
