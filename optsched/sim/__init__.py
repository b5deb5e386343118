"""Discrete-event simulation of model serving with autoscaled backend pools:
per-model request arrivals and service times, several frontends, a
provisioning delay and the backend lifecycle (cold, provisioning, warm)."""
