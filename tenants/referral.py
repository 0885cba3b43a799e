"""Which Zenoti referral source a new guest gets: the organization's referral rules, tried in
order (first match wins), then its default, else none. Used by "test a visit" on the settings
page and by the booking funnel when it creates a Zenoti guest."""

from dataclasses import dataclass

from tenants.models import ReferralRule


@dataclass(frozen=True)
class ReferralSource:
    source_id: str
    label: str
    rule: ReferralRule | None
    why: str  # "rule", "default" or "none"
    number: int | None = None  # 1-based place of the matched rule in the list


def referral_source_for(organization, facts, rules=None):
    """The referral source for a visit whose `facts` come from attribution.sources.visit_facts.

    `rules` may pass this organization's rules already fetched in order, to save the query.
    """
    if rules is None:
        rules = ReferralRule.objects.filter(organization=organization).order_by("position", "id")
    for number, rule in enumerate(rules, start=1):
        if rule.matches(facts):
            return ReferralSource(rule.referral_source_id, rule.label, rule, "rule", number)
    if organization.default_referral_source_id:
        return ReferralSource(
            organization.default_referral_source_id,
            organization.default_referral_source_label,
            None,
            "default",
        )
    return ReferralSource("", "", None, "none")
