"""Container network configuration: Calico IP pools with validation, and the VCalico flat-network
ticket flow with human check and confirmation.
"""
