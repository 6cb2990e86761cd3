"""Data: TLC month files read and prepared by the course's rules, and fetched (cached, checked)."""
