"""The JSON Schema of the workflow language, kept at the path users' YAML files point their editors at
(``# yaml-language-server: $schema=…/flowengine/schema/workflow.schema.json``); the check that
uses it is :mod:`flowengine.definition.structure`."""
