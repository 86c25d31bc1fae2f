"""Curse-of-memory sensitivity diagnostics: closed-form second moments of linear
recurrences and their λ-derivatives (`sensitivity.theory`), a Monte-Carlo
simulator to validate them (`sensitivity.montecarlo`) and a CLI check
(`python -m sensitivity.check`)."""
