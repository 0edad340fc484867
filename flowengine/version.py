"""flowengine's version, on the ground floor: the build cache and the published site stamp it,
and neither may import the package face that names every floor above them."""

__version__ = "0.1.0"
