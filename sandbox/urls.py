"""Routes of the Zenoti sandbox (mounted at /sandbox/)."""

urlpatterns = []
