"""Recurrent models: the backbone, one file per recurrent layer, and the scan kernels."""
