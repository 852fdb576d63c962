"""Digital-twin mode: calibrate from history, mirror a live day, predict forward.

- :mod:`twin.live.history`: the documented history schema, its validating reader,
  and the export of a simulated day in that schema (the work is in
  :mod:`~twin.live.history_schema`, :mod:`~twin.live.simulated_history` and
  :mod:`~twin.live.history_feed`).
- :mod:`twin.live.calibrate`: fit a scenario to history (``twin calibrate``); one
  module per fit (``*_fit``), :mod:`~twin.live.calibrated_scenario`,
  :mod:`~twin.live.calibration_validation`, :mod:`~twin.live.history_measures`.
- :mod:`twin.live.events` and :mod:`twin.live.state`: the live events and the
  state folded from them.
- :mod:`twin.live.store`, :mod:`twin.live.api`: the event store and the HTTP API
  (``twin serve``); :mod:`twin.live.service`: the live twin behind it (store +
  state + background forecasts); :mod:`twin.live.schemas`: its request and
  response models; :mod:`twin.live.geometry`: the map as polylines;
  :mod:`twin.live.forecast`: Monte Carlo ETAs and risks (``forecast_model``,
  ``forecast_run``, ``forecast_step``, ``forecast_results``).
- :mod:`twin.live.replay`: feed a recorded day into the API (``twin replay``).
"""
