"""The flowengine command line (installed as ``flowengine_cli``; the source folder is ``cli/``)."""
