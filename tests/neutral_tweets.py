"""Neutral airline tweets written for the tests (questions and requests, no mood), and
complaints and thanks to set them against: never the airline-dev export's."""

from __future__ import annotations

CITIES = ("boston", "denver", "austin", "chicago", "seattle", "miami", "dallas", "atlanta")
QUESTIONS = (
    "what time does boarding start for flight {n} to {city}?",
    "which terminal does the {city} flight leave from?",
    "how many bags can i check on the {city} route?",
    "is there wifi on flight {n} to {city}?",
    "can i change my seat on the {city} flight {n}?",
    "when does check in open for flight {n}?",
    "does the {city} flight {n} serve meals?",
    "do you fly nonstop to {city} in march?",
    "please dm me the gate for flight {n} to {city}",
    "what is the baggage allowance to {city}?",
)
COMPLAINTS = (
    "flight {n} to {city} delayed again, worst airline ever",
    "you lost my bag on the {city} flight, furious",
    "stuck on the tarmac in {city} for three hours, awful",
    "rude gate agent at {city}, never flying with you again",
    "cancelled flight {n} and no rebooking, terrible service",
)
THANKS = (
    "great crew on flight {n} to {city}, thank you!",
    "loved the upgrade on the {city} flight, amazing",
)


def tweets(templates: tuple[str, ...], count: int, offset: int = 0) -> list[str]:
    """`count` distinct tweets from `templates`, cities and flight numbers."""
    return [
        templates[i % len(templates)].format(
            n=100 + offset + i, city=CITIES[(i // len(templates)) % len(CITIES)]
        )
        for i in range(count)
    ]
