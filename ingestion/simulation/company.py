"""The company's running state during a simulation: its log, its customers, its plans."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ingestion.simulation.buyers import Customer
from ingestion.simulation.log import EventLog
from ingestion.simulation.randomness import Draws, Ids
from ingestion.simulation.world import World


@dataclass
class Company:
    """Everything the simulation steps share: draws, the log, numbering and customers' plans."""

    log: EventLog
    draws: Draws
    ids: Ids
    world: World
    # (day ordinal, sequence, kind, customer): a customer's plan to come back. Customers
    # live only as long as such a plan, so memory follows activity, not history.
    intents: list[tuple[int, int, str, Customer]] = field(default_factory=list)
    # names and mail domains of the buyers' companies so far: each company exists once, so
    # two buyers who write the same company name and domain are, in truth, one customer
    company_names: set[str] = field(default_factory=set)
    _numbers: dict[str, int] = field(default_factory=dict)

    def number(self, kind: str) -> int:
        """The next serial number of a kind of business document (inquiry, order, …)."""
        value = self._numbers.get(kind, 0) + 1
        self._numbers[kind] = value
        return value

    def count(self, kind: str) -> int:
        """How many numbers of a kind were handed out."""
        return self._numbers.get(kind, 0)

    def intend(self, day_ordinal: int, kind: str, customer: Customer) -> None:
        """Plan a customer's return on a day: `order` (reorder) or `inquiry` (ask again)."""
        heapq.heappush(self.intents, (day_ordinal, self.number("intent"), kind, customer))

    def due_intents(self, day_ordinal: int) -> list[tuple[str, Customer]]:
        """Intents planned for this day or earlier, in plan order."""
        due = []
        while self.intents and self.intents[0][0] <= day_ordinal:
            _, _, kind, customer = heapq.heappop(self.intents)
            due.append((kind, customer))
        return due
