"""What people see: diagram model and renderers, text tables, the stall report, the HTML report."""
