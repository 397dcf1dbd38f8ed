"""The simulated data centre: never imported by services, reached only over the protocols they use with real systems."""
