"""Pretrained real-world encoders, read offline from pinned registry packages."""
