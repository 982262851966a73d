"""Faust adapters: decode, call the monitor core, send, count. No news logic here."""
