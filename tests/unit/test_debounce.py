from peervault.sync.debounce import Debouncer


def test_first_change_goes_at_once_followups_wait_for_the_window():
    d = Debouncer(1.0)
    assert d.due({"a"}, 0.0) == ({"a"}, None)
    ready, wake = d.due({"a"}, 0.3)  # a burst: held back
    assert ready == set() and wake == 1.0
    ready, wake = d.due({"a"}, 0.6)  # still one pending batch, same wake-up
    assert ready == set() and wake == 1.0
    assert d.due({"a"}, 1.0) == ({"a"}, None)  # window over: the batch goes


def test_keys_are_independent():
    d = Debouncer(1.0)
    d.due({"a"}, 0.0)
    ready, wake = d.due({"a", "b"}, 0.5)
    assert ready == {"b"} and wake == 1.0


def test_quiet_key_is_forgotten_after_the_window():
    d = Debouncer(1.0)
    d.due({"a"}, 0.0)
    assert d.due({"a"}, 5.0) == ({"a"}, None)
