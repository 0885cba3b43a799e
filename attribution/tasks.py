"""Jobs of the attribution app (django-q2): one webhook delivery attempt, and the sweeper
that re-enqueues due and stuck deliveries every minute (scheduled by attribution.apps)."""

from attribution import delivery


def deliver_webhook(delivery_id):
    """Enqueued by the outbox when an event commits, by replays and by the sweeper."""
    return delivery.deliver(delivery_id)


def sweep_webhooks():
    return delivery.sweep()
