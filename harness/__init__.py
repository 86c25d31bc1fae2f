"""Glue between configs, Lightning and result records: validation, identity, callbacks, the run itself."""
