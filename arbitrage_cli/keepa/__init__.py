"""The one door to Keepa: client, typed errors, the shared token budget."""
