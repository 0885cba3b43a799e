"""The Zenoti sandbox: a stateful fake of the Zenoti API subset Chairfill uses, its hosted
payment page, fault knobs and an admin page. Mounted at /sandbox/ when SANDBOX_ENABLED."""
