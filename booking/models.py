"""Booking models. For now: the Zenoti call log behind the API health page."""

from django.db import models
from django.utils import timezone

from tenants.models import Center, Organization


class CallOutcome(models.TextChoices):
    OK = "ok", "OK"
    HTTP_ERROR = "http_error", "HTTP error"
    TIMEOUT = "timeout", "Timeout"
    NETWORK_ERROR = "network_error", "Network error"
    # Our own shared budget refused the call: nothing was sent to Zenoti.
    BUDGET = "budget", "Held back by the budget"


# Attempts that reached (or tried to reach) Zenoti and failed. A budget refusal is no error of
# Zenoti's: the health page counts those separately.
ERROR_OUTCOMES = (CallOutcome.HTTP_ERROR, CallOutcome.TIMEOUT, CallOutcome.NETWORK_ERROR)


class ZenotiCall(models.Model):
    """One HTTP attempt against Zenoti (a retried call leaves one row per attempt).

    Only what the health page needs: never the API key, query strings, ids or any guest data —
    the path is the template (`/guests/{guest_id}/appointments`), not the URL.
    """

    # The composite index below leads with organization, so the foreign key needs no own index.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    center = models.ForeignKey(Center, on_delete=models.SET_NULL, null=True, related_name="+")
    method = models.CharField(max_length=8)
    path_template = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.IntegerField(null=True, blank=True)
    latency_ms = models.FloatField()
    attempt = models.PositiveSmallIntegerField(default=1)
    ratelimit_remaining = models.IntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices)
    # Indexed on its own for the retention job: DELETE … WHERE created_at < cutoff.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [
            # The API health page: WHERE organization_id = %s AND created_at >= %s
            # (window totals, per-center figures, the hourly chart) and
            # ORDER BY created_at DESC for the latest errors and remaining budget.
            models.Index(fields=["organization", "-created_at"], name="zenoticall_org_recent"),
        ]

    def __str__(self):
        return f"{self.method} {self.path_template} → {self.status or self.outcome}"

    @property
    def is_error(self):
        return self.outcome in ERROR_OUTCOMES
