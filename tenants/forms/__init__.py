"""Forms of the tenants app, one module per area."""
