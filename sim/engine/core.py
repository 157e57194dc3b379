"""The engine: wires the processes of one run together and runs them (no I/O).

Processes, each in its own module: training arrivals and schedulers
(:mod:`sim.engine.training`), serving (:mod:`sim.engine.serving`), supply
(:mod:`sim.engine.supply`), and the monthly maturity tick with customer reviews
(:mod:`sim.engine.decisions`). They share one :class:`~sim.engine.state.World`; the run
returns its :class:`~sim.engine.records.EngineLog`, which :mod:`sim.accounting` turns into
tables.
"""

from __future__ import annotations

import simpy

from sim.engine.decisions import CHOICE_RULES, DecisionProcess
from sim.engine.records import EngineLog, OverstayRecord
from sim.engine.serving import ServingProcess
from sim.engine.state import SegmentState, World
from sim.engine.supply import SupplyProcess
from sim.engine.training import TrainingProcess, scheduler_for
from sim.model.schema import Scenario


class Engine:
    """The simpy model of one scenario for one root seed."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.world = World.build(scenario, seed)
        self.training = TrainingProcess(self.world, scheduler_for(scenario.scheduling))
        self.serving = ServingProcess(self.world, self.training)
        self.supply = SupplyProcess(self.world, self.training, self.serving)
        self.decisions = DecisionProcess(self.world, CHOICE_RULES[scenario.adoption.decisions])

    @property
    def env(self) -> simpy.Environment:
        """The simpy environment of the run."""
        return self.world.env

    @property
    def segments(self) -> list[SegmentState]:
        """The segments' state, in scenario order."""
        return self.world.segments

    def run(self) -> EngineLog:
        """Simulate the whole horizon and return the records."""
        w = self.world
        s = w.scenario
        env = w.env
        self.decisions.update_maturity()
        self.supply.initial_capacity()
        env.process(self.decisions.monthly())
        for pid, spec in s.provider.pools.items():
            if spec.deliveries:
                pool = w.pools[w.pool_index[pid]]
                plan = [(w.clock.hours(d.date), d.chips) for d in spec.deliveries]
                env.process(self.supply.deliveries(pool, plan))
        if s.provider.procurement.policy == "forecast":
            env.process(self.supply.procurement())
        for seg in w.segments:
            if seg.spec.inference is not None:
                env.process(self.serving.run(seg))
            if seg.spec.training is not None:
                env.process(self.training.arrivals(seg))
            if s.adoption.enabled:
                env.process(self.decisions.reviews(seg))
            if seg.spec.commitment is not None:
                env.process(self.decisions.commitment(seg))
        env.run(until=w.horizon_h)
        self._close()
        return w.log

    def _close(self) -> None:
        """At the horizon end: unstarted jobs, and chips still waiting to retire."""
        w = self.world
        self.training.record_unstarted()
        self.serving.complete()
        for p in w.pools:
            p.touch(w.env.now)
            # chips still waiting to retire stay installed to the end of the horizon
            for retire_h, chips in p.retire_queue:
                w.log.overstays.append(OverstayRecord(p.idx, int(chips), retire_h, w.horizon_h))


def simulate(scenario: Scenario, seed: int) -> EngineLog:
    """Run one replication of ``scenario`` with root seed ``seed``."""
    return Engine(scenario, seed).run()
