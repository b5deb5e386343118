"""Backend sizing: Swayam's analytical autoscaler and the autoscaling baselines
(ClairA1, ClairA2, Kubernetes HPA, static peak pool)."""
