"""Guest booking: the Zenoti client, widgets, booking sessions and the guest funnel."""
