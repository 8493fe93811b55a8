"""Pure analysis: Keepa product JSON (+ its winning seller) in, deal values out.

No I/O, no settings files, no clock reads: callers pass `now` and settings values (STYLE.md).
"""
