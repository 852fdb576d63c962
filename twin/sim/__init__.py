"""The SimPy engine (:class:`Simulation`) and its result (:class:`SimResult`)."""

from twin.sim.engine import SimResult, Simulation

__all__ = ["SimResult", "Simulation"]
