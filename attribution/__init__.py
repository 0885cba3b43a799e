"""Marketing attribution: touches (UTM parameters, ad click IDs), funnel events, webhooks."""
