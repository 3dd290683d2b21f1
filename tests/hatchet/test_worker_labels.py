"""A worker's labels as `hatchet.worker(labels=...)` takes them (no servers)."""

from __future__ import annotations


def test_worker_labels_may_be_a_dict_or_hatchets_list_of_worker_labels() -> None:
    from sfpserver.hatchet import WorkerLabel
    from sfpserver.hatchet.worker import worker_labels

    listed = [WorkerLabel(key="zone", value="eu"), WorkerLabel(key="memory", value=512)]
    assert (worker_labels(listed), worker_labels({"zone": "eu"}), worker_labels(None)) == (
        {"zone": "eu", "memory": 512},
        {"zone": "eu"},
        {},
    )
