"""Leaf modules every package may import: user errors, shared key names, config
validation, discovery of models and tasks. Nothing here imports the project's
other packages."""
