"""The Kubernetes scheduler extender (filter, prioritize, preempt, bind)."""
