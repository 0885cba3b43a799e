"""Load (or refresh) the Zenoti sandbox's demo organizations."""

from django.core.management.base import BaseCommand

from sandbox.demo import load_demo


class Command(BaseCommand):
    help = "Create or refresh the sandbox's demo salons (lumen, willow). Safe to re-run."

    def handle(self, *args, **options):
        organizations = load_demo()
        self.stdout.write(self.style.SUCCESS("Sandbox demo data ready."))
        for org in organizations.values():
            keys = ", ".join(org.api_keys.values_list("key", flat=True))
            centers = ", ".join(f"{c.name} ({c.id})" for c in org.centers.all())
            self.stdout.write(f"  {org.slug}: key {keys}; centers {centers}")
        self.stdout.write("API base URL: <site>/sandbox/zenoti/v1 · admin page: <site>/sandbox/")
