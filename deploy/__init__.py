"""Deployments beyond one machine: Kubernetes manifests generated from the platform's settings."""
