"""Template context for the dashboard shell (organization switcher, key-expiry banner)."""

from django.utils.functional import SimpleLazyObject

from tenants.access import agencies_for, organizations_for
from tenants.models import Center


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    ctx = {
        "user_organizations": SimpleLazyObject(lambda: list(organizations_for(user))),
        "user_agencies": SimpleLazyObject(lambda: list(agencies_for(user))),
    }
    organization = getattr(request, "organization", None)
    if organization is not None:
        ctx["key_expiry_centers"] = SimpleLazyObject(
            # The banner never needs the key: don't decrypt it on every page.
            lambda: list(
                Center.objects.filter(organization=organization).key_expiring().defer("api_key")
            )
        )
    return ctx
