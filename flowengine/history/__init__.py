"""A proposal's history: records, the one step builder, the one sealing function, the chain."""
