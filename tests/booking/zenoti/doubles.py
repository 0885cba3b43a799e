"""Test doubles for the Zenoti client: a fake clock whose sleep moves time, a dict store with
Django's cache methods, and a MockTransport handler answering from a queue."""

import json

import httpx

BASE_URL = "https://api.zenoti.test/v1"
API_KEY = "zk-secret-0123456789abcdef"


class FakeClock:
    """One clock for `time.time` and `time.monotonic`; `sleep` records and advances it."""

    def __init__(self, start=1_800_000_000.0):
        self.now = start
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds):
        self.now += seconds


class FakeStore:
    """Django's cache API (add/get/set/delete with timeouts) over a dict and a FakeClock."""

    def __init__(self, clock):
        self.clock = clock
        self.data = {}
        self.calls = []

    def _alive(self, key):
        if key in self.data:
            value, expires = self.data[key]
            if expires is None or expires > self.clock.time():
                return True
            del self.data[key]
        return False

    def add(self, key, value, timeout=None):
        self.calls.append(("add", key))
        if self._alive(key):
            return False
        self.set(key, value, timeout)
        return True

    def get(self, key, default=None):
        self.calls.append(("get", key))
        return self.data[key][0] if self._alive(key) else default

    def set(self, key, value, timeout=None):
        self.calls.append(("set", key))
        expires = None if timeout is None else self.clock.time() + timeout
        self.data[key] = (value, expires)

    def delete(self, key):
        self.calls.append(("delete", key))
        self.data.pop(key, None)


def respond(status=200, body=None, *, headers=None, text=None):
    """An httpx.Response with a JSON body (or raw `text`)."""
    if text is not None:
        return httpx.Response(status, content=text.encode(), headers=headers)
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)


class Recorder:
    """A MockTransport handler answering from a queue (or a function), keeping the requests."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer) and not isinstance(answer, httpx.Response):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def bodies(self):
        return [json.loads(r.content) if r.content else None for r in self.requests]
