"""Network design: where to put micro-fulfillment centers, micro-hubs or parcel lockers,
and what they save.

A study runs in three steps:

1. **Candidates**: sites from a CSV or GeoJSON file (lat/lon, fixed cost per
   day, capacity in orders per day), or generated from the map: a grid over
   the demand area, one site per cell at the node nearest its centre on a
   major road (a truck must reach it). The scenario's hubs are existing sites:
   always open, their cost already paid.
2. **Model**: demand is the scenario's own demand model over many sampled days
   (customers' locker choices included: a parcel sent to a locker is delivered
   there), clustered into areas. The cost of serving an order from a site is
   the van's stem trip there and back on the road network (time-dependent
   travel times at ``depart_h``, driver wage and distance cost) shared by the
   stops of a trip; the local tour between stops does not depend on the site
   and is left out. :mod:`twin.sites.facility` opens ``k`` new sites at least fixed
   plus delivery cost, within capacities and a service constraint (a share of
   demand within ``service_min`` of its site), for each ``k``: the trade-off
   curve.
3. **Simulation**: each recommended configuration becomes a scenario (its
   sites as hubs, the fleet split among them by the demand they serve) and is
   simulated with replications. Every configuration sees the same orders
   (common random numbers: candidate sites must be reachable to and from the
   scenario's hubs, so the customers are the same), so savings against the
   existing network are paired differences with confidence intervals, and
   where the static model's saving falls outside them, the two disagree.

Lockers (``kind: locker``) follow the same three steps with their own model:
the scenario's locker banks are the existing sites, demand is where customers
live, and an area's cost is the doorstep cost less the parcels its customers
would send to the locker (the engine's choice and redirection rules) times
what each saves; configurations change the lockers, never the hubs or fleet
(:mod:`twin.sites.model`).

Modules: :mod:`~twin.sites.candidates`, :mod:`~twin.sites.areas`,
:mod:`~twin.sites.model`, :mod:`~twin.sites.facility` (CP-SAT, the only OR-Tools
import besides routing), :mod:`~twin.sites.evaluate`, :mod:`~twin.sites.study`,
and :mod:`~twin.sites.experiment` (several studies from one file).
"""

from twin.scenario.study import GenerateSettings, SiteSettings
from twin.sites.areas import DemandAreas, aggregate_demand
from twin.sites.candidates import Candidate, generate_candidates, read_candidates
from twin.sites.evaluate import (
    CHANGE_KPIS,
    STUDY_KPIS,
    Evaluation,
    configuration_scenario,
    simulate,
    site_cost_per_day,
    study_result,
)
from twin.sites.model import Configuration, SiteStudy
from twin.sites.study import parse_k, run_study

__all__ = [
    "CHANGE_KPIS",
    "STUDY_KPIS",
    "Candidate",
    "Configuration",
    "DemandAreas",
    "Evaluation",
    "GenerateSettings",
    "SiteSettings",
    "SiteStudy",
    "aggregate_demand",
    "configuration_scenario",
    "generate_candidates",
    "parse_k",
    "read_candidates",
    "run_study",
    "simulate",
    "site_cost_per_day",
    "study_result",
]
