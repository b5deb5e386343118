"""MIAD GPU frequency control (μ-Serve): controller, actuators, simulator, solver."""
