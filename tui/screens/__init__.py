"""One modal or screen per file."""
