"""Tasks: one file per task (data + what is scored) and the LightningModule that trains any model on any task."""
