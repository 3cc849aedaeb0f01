"""Reading Prometheus's text format: the samples of a scrape, and one metric's total."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels) -> float:
    return sum(
        number
        for (sample, sample_labels), number in samples(text).items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )
