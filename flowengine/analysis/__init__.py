"""Where proposals stall: figures, the reference analysis and the columnar one."""
