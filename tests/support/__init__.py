"""What the test suites share: brokers, an MJPEG camera, bundle checks, daemon runners and fakes."""
