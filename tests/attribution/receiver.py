"""Test helpers for webhooks: a real HTTP receiver on 127.0.0.1 that records what it gets and
answers as told, and verification by the independent `standardwebhooks` package at any
moment (its clock otherwise refuses timestamps more than five minutes from now)."""

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

from standardwebhooks import webhooks as standard
from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    method: str
    path: str
    headers: dict  # lower-cased names
    body: bytes


class Receiver:
    """`reply` is (status, headers, body) or a callable of the Received giving one."""

    def __init__(self):
        self.requests = []
        self.reply = (200, {}, b"ok")
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                got = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                receiver.requests.append(got)
                reply = receiver.reply(got) if callable(receiver.reply) else receiver.reply
                status, headers, body = reply
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}/hooks"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def library_clock(moment):
    """standardwebhooks' notion of now, for checking timestamps far from the real clock."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment.astimezone(tz or UTC)

    with mock.patch.object(standard, "datetime", Frozen):
        yield


def verify(secret, body, headers, at=None):
    """What `standardwebhooks` makes of a delivery: the parsed JSON, or it raises
    WebhookVerificationError."""
    if at is None:
        return Webhook(secret).verify(body, headers)
    with library_clock(at):
        return Webhook(secret).verify(body, headers)
