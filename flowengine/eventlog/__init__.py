"""Event logs in and out: CSV, XES (IEEE 1849) and OCEL 2.0, as process-mining tools read them."""
