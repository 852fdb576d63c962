"""The SimPy engine (:class:`Simulation`) and its result (:class:`SimResult`)."""

from twin.sim.engine import Simulation
from twin.sim.observers import Observer
from twin.sim.tables import SimResult

__all__ = ["Observer", "SimResult", "Simulation"]
