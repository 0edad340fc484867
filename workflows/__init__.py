"""The bundled workflows, shipped as package data so an installed flowengine finds them."""
