"""An SDK worker for the recovery tests: started while Postgres is down, it must wait for it and then serve."""

from __future__ import annotations

from sfpserver.hatchet import Context, EmptyModel, Hatchet

hatchet = Hatchet()


@hatchet.task(name="RecoveryEcho")
def echo(input: EmptyModel, ctx: Context) -> dict[str, object]:
    return {"worker": ctx.worker_id}


if __name__ == "__main__":
    hatchet.worker("sdk-recovery-worker", slots=2, workflows=[echo]).start()
