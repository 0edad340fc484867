"""flowengine: the innovation decision chain of municipal services, made explicit.

The library never prints and never exits; the command line in ``flowengine_cli`` does.
"""

__version__ = "0.1.0"
