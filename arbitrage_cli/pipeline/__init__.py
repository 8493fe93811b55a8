"""Work that uses the store (and Keepa): backfill, sync, recalc, janitor."""
