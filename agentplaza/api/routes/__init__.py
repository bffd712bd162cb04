"""One module per resource, named after its URL."""
