"""A separate process that keeps advancing proposals while a test backs the database up:

    python -m tests.backup_writer DB STEPS READY_AFTER ID...

It takes READY_AFTER steps, prints ``ready``, waits for a line on standard input (the test
starting its backup), takes the remaining steps, and prints ``done N``. Bounded: STEPS steps.
"""

from __future__ import annotations

import sys

from flowengine.history.records import Actor

from .stress_advances import NEXT_STEP, open_engine


def main(db: str, steps: int, ready_after: int, proposal_ids: list[str]) -> None:
    with open_engine(db) as engine:
        for step in range(steps):
            if step == ready_after:
                print("ready", flush=True)
                sys.stdin.readline()
            proposal_id = proposal_ids[step % len(proposal_ids)]
            trigger, role = NEXT_STEP[engine.standing(proposal_id).proposal.state]
            engine.advance(proposal_id, trigger, actor=Actor("writer", role))
    print(f"done {steps}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
