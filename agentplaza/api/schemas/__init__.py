"""Request models per resource (pydantic); they document the API in /openapi.json."""
