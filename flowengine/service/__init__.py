"""The façade (:class:`flowengine.service.facade.FlowEngine`) and the operations it delegates to,
one module per job: steps, reading, tick, migrating, audit, analysis."""
