"""What a bound API key may name: the pure decisions behind the 403s (docs/security.md)."""

from __future__ import annotations

from stockbridge.domain.access import UNBOUND, Binding, Refusal, refused_events, refused_names


def test_an_unbound_key_may_name_anything() -> None:
    raws = [{"source": "pos", "location": "S9"}, {"source": "web", "location": "S1"}]
    assert refused_events(UNBOUND, raws) == []
    assert refused_names(UNBOUND, {"path.channel": ("channel", "web")}) == []
    assert not UNBOUND.bound


def test_every_event_outside_the_binding_is_named_with_its_place() -> None:
    # Given a key bound to source pos at S1
    binding = Binding.of({"sources": ["pos"], "locations": ["S1"]})
    raws = [
        {"source": "pos", "location": "S1"},
        {"source": "pos", "location": "S2"},
        {"source": "web", "location": "S1"},
        {"source": "web", "location": "S3"},
    ]
    # When the batch is judged
    refusals = refused_events(binding, raws)
    # Then each stray source and location is named, in order
    assert refusals == [
        Refusal("location", "S2", "events[1].location"),
        Refusal("source", "web", "events[2].source"),
        Refusal("source", "web", "events[3].source"),
        Refusal("location", "S3", "events[3].location"),
    ]


def test_a_dimension_left_empty_stays_unbound() -> None:
    # Given a key bound to locations only
    binding = Binding.of({"locations": ["S1"]})
    # Then any source passes, any other location does not
    assert refused_events(binding, [{"source": "anything", "location": "S1"}]) == []
    assert refused_names(binding, {"path.channel": ("channel", "web")}) == []
    assert binding.refuse("location", "S2", "x") == Refusal("location", "S2", "x")


def test_malformed_events_are_left_to_ingest() -> None:
    # Events without a source or location, or not objects at all, are not judged here:
    # ingest refuses them per item with its own reason.
    binding = Binding.of({"sources": ["pos"], "locations": ["S1"]})
    assert refused_events(binding, [{"event_id": "x"}, "not an object", None]) == []


def test_a_value_that_is_not_a_string_is_refused() -> None:
    binding = Binding.of({"locations": ["1"]})
    assert refused_events(binding, [{"location": 1}]) == [
        Refusal("location", "1", "events[0].location")
    ]


def test_a_binding_round_trips_through_its_stored_form() -> None:
    binding = Binding.of({"sources": ["pos"], "channels": ["web", "app"]})
    assert binding.as_dict() == {"sources": ["pos"], "channels": ["app", "web"]}
    assert Binding.of(binding.as_dict()) == binding
    assert binding.bound
