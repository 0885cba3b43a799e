"""The sandbox's notion of time, in one place so tests can move it (patch `sandbox.clock.now`)
and skip waiting (patch `sandbox.clock.sleep`)."""

import time

from django.utils import timezone


def now():
    return timezone.now()


def sleep(seconds):
    if seconds > 0:
        time.sleep(seconds)
