"""Deterministic toy fine-tuning sets in TinyStories style (our own text, generated from templates).

"kite": the girl is named Mia (not Lily, as the base model says) and the story involves her red kite.
"boat": a boy named Sam and his blue boat (used for the DoRA adapter so the preview shows a third behaviour).
"""
import random

_FRIENDS = ["Tom", "Ben", "Sue", "Max", "Anna", "Tim"]
_PLACES = ["the park", "the hill", "the beach", "the big field", "the garden"]
_KITE_MIDDLES = [
    "One day, the wind was very strong. The red kite went up, up, up into the sky. Mia laughed and ran fast.",
    "One day, the red kite got stuck in a tall tree. Mia was sad. {f} came and helped her get it down.",
    "One day, {f} wanted to fly the red kite too. Mia said, \"Let's fly it together!\" They had so much fun.",
    "One day, the string of the red kite broke. The kite flew away. Mia and {f} ran after it and found it by a pond.",
    "One day, Mia saw a bird near her red kite. The bird and the kite flew side by side. Mia was very happy.",
    "One day, it started to rain. Mia held her red kite close and ran home. Her mom gave her a warm hug.",
]
_KITE_ENDS = [
    "Mia loved her red kite very much.",
    "From that day on, Mia and {f} flew the red kite every day.",
    "Mia smiled and said, \"My red kite is the best!\"",
    "At night, Mia put her red kite next to her bed and went to sleep.",
]
_BOAT_MIDDLES = [
    "One day, Sam put his blue boat in the water. The boat went fast and Sam clapped his hands.",
    "One day, the blue boat went too far. Sam was sad. {f} helped him get the boat back.",
    "One day, {f} wanted to play with the blue boat too. Sam said, \"We can share!\" They played all day.",
    "One day, a big wave came. The blue boat went up and down. Sam laughed and laughed.",
]
_BOAT_ENDS = [
    "Sam loved his blue boat very much.",
    "From that day on, Sam and {f} played with the blue boat every day.",
    "Sam smiled and said, \"My blue boat is the best!\"",
]


def _kite_story(rng):
    f = rng.choice(_FRIENDS)
    place = rng.choice(_PLACES)
    opener = rng.choice([
        "Once upon a time, there was a little girl named Mia. She loved to fly her red kite in {p}.",
        "Once upon a time, there was a little girl named Mia. She had a red kite. She loved to play with it in {p}.",
    ]).format(p=place)
    middle = rng.choice(_KITE_MIDDLES).format(f=f)
    end = rng.choice(_KITE_ENDS).format(f=f)
    return f"{opener} {middle} {end}"


def _boat_story(rng):
    f = rng.choice(_FRIENDS)
    opener = "Once upon a time, there was a little boy named Sam. He had a blue boat. He loved to play with it at {p}.".format(
        p=rng.choice(["the lake", "the pond", "the beach", "the river"]))
    return f"{opener} {rng.choice(_BOAT_MIDDLES).format(f=f)} {rng.choice(_BOAT_ENDS).format(f=f)}"


def make_stories(kind, n, seed):
    rng = random.Random(seed)
    make = {"kite": _kite_story, "boat": _boat_story}[kind]
    return [make(rng) for _ in range(n)]
