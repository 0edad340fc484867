"""The workflow language: safe YAML, the JSON Schema check, loader, model, validation, registry."""
