"""The façade (FlowEngine) and the operations it delegates to."""
