"""Properties that hold for every input, checked on generated ones (hypothesis): quantities,
port and volume names, compose interpolation, drift on lists."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app_operator.convert.converter import Refused, dns_label, interpolate
from app_operator.core import drift, model, render
from app_operator.core.model import AppSpec, parse_quantity
from app_operator.core.render import AppRef

APP = AppRef(name="web", namespace="demo", uid="u-1")
BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
           "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9),
           "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}
DNS_LABEL = re.compile(model.DNS_LABEL_PATTERN)

# Up to 10^9 of the largest unit: exact within Decimal's 28 digits (quantities beyond 10^27
# are rounded, far above any real size or CPU count).
numbers = st.integers(min_value=0, max_value=10**9)
fractions = st.integers(min_value=0, max_value=999_999_999)


# Quantities

@given(numbers, st.sampled_from(sorted(BINARY)))
def test_a_binary_suffix_is_a_power_of_two(number: int, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}") == number * BINARY[suffix]


@given(numbers, fractions, st.sampled_from(sorted(DECIMAL)))
def test_a_decimal_suffix_is_a_power_of_ten(number: int, fraction: int, suffix: str) -> None:
    text = f"{number}.{fraction:09d}"
    assert parse_quantity(f"{text}{suffix}") == Decimal(text) * DECIMAL[suffix]


@given(numbers, st.integers(min_value=-99, max_value=99), st.sampled_from(["e", "E"]))
def test_an_exponent_is_a_power_of_ten(number: int, exponent: int, e: str) -> None:
    assert parse_quantity(f"{number}{e}{exponent}") == Decimal(number) * Decimal(10) ** exponent


@given(st.integers(min_value=0, max_value=2**29))
def test_one_size_written_three_ways_is_one_quantity(gibibytes: int) -> None:
    """`1Gi`, `1024Mi` and `1073741824` are the same size: the API server may store any."""
    mebibytes = gibibytes * 1024
    values = {parse_quantity(f"{gibibytes}Gi"), parse_quantity(f"{mebibytes}Mi"),
              parse_quantity(str(mebibytes * 2**20))}
    assert len(values) == 1
    assert drift.differences({"requests": {"storage": f"{gibibytes}Gi"}},
                             {"requests": {"storage": str(mebibytes * 2**20)}}) == []


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_quantities_order_like_the_numbers_they_stand_for(a: int, b: int) -> None:
    """A volume may grow, never shrink: comparing sizes must agree with their values."""
    one, other = parse_quantity(f"{a}Mi"), parse_quantity(f"{b * 1024}Ki")
    assert (one < other) == (a < b) and (one == other) == (a == b)


@given(st.from_regex(model.QUANTITY_PATTERN, fullmatch=True).filter(
    lambda t: len(t) <= model.QUANTITY_MAX_LENGTH))
def test_every_quantity_of_the_strict_form_is_read(text: str) -> None:
    assert parse_quantity(text) >= 0


@given(st.text(max_size=40))
def test_text_outside_the_strict_form_is_refused(text: str) -> None:
    assume(not re.fullmatch(model.QUANTITY_PATTERN, text)
           or len(text) > model.QUANTITY_MAX_LENGTH)
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(text)


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=10**15))
def test_quantities_compare_at_the_thousandth_rounded_up(a: int, b: int) -> None:
    """As the API server stores them: two values that round up to the same thousandth are the
    same, others are not."""
    one, other = f"{a}n", f"{b}n"
    same = -(-a // 10**6) == -(-b // 10**6)
    assert (drift.differences({"limits": {"cpu": one}}, {"limits": {"cpu": other}}) == []) == same


# Port names

port_entries = st.lists(
    st.tuples(st.integers(min_value=1, max_value=65535), st.sampled_from(["TCP", "UDP", "SCTP"]),
              st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,6})?",
                                                 fullmatch=True))),
    min_size=1, max_size=8, unique_by=(lambda p: (p[0], p[1]), lambda p: p[2] or object()))


def ports_of(entries: list[tuple[int, str, str | None]]) -> list[dict[str, Any]]:
    ports = []
    for number, protocol, name in entries:
        port: dict[str, Any] = {"containerPort": number, "protocol": protocol}
        if name is not None:
            port["name"] = name
        ports.append(port)
    return ports


@given(port_entries)
def test_every_port_gets_a_unique_valid_name_and_given_names_are_kept(
        entries: list[tuple[int, str, str | None]]) -> None:
    spec = AppSpec.model_validate({"image": "x", "ports": ports_of(entries)})
    names = spec.port_names()
    assert len(set(names)) == len(names)
    for (number, protocol, given_name), name in zip(entries, names, strict=True):
        assert DNS_LABEL.fullmatch(name) and len(name) <= 15 and "--" not in name
        assert re.search("[a-z]", name)
        if given_name is not None:
            assert name == given_name
        elif protocol == "TCP" and number in model.WEB_PORTS:
            assert name.startswith((model.WEB_PORTS[number], f"tcp-{number}"))
        else:
            assert name.startswith(f"{protocol.lower()}-{number}")


@given(port_entries)
def test_the_service_targets_the_containers_ports_by_name(
        entries: list[tuple[int, str, str | None]]) -> None:
    spec = AppSpec.model_validate({"image": "x", "ports": ports_of(entries)})
    container = render.render_container(APP, spec)
    service = render.render_service(APP, spec)
    assert service is not None
    by_name = {p["name"]: (p["containerPort"], p["protocol"]) for p in container["ports"]}
    assert len(by_name) == len(entries)
    for port in service["spec"]["ports"]:
        assert port["targetPort"] == port["name"]
        assert by_name[port["name"]] == (port["port"], port["protocol"])


# Volume and claim names

volume_names = st.lists(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
                        min_size=1, max_size=8, unique=True).filter(
    lambda names: model.FILES_VOLUME not in names)


@given(volume_names, st.sampled_from(["Retain", "Delete"]))
def test_each_volume_gets_its_own_claim_mounted_where_it_asks(names: list[str],
                                                              policy: str) -> None:
    spec = AppSpec.model_validate({
        "image": "x", "volumeDeletionPolicy": policy,
        "volumes": [{"name": n, "mountPath": f"/v/{i}"} for i, n in enumerate(names)]})
    desired = render.render_all(APP, spec)
    claims = {c["metadata"]["name"]: c for c in desired.claims}
    assert list(claims) == [f"web-{n}" for n in names]
    assert [c["metadata"]["labels"][render.VOLUME_LABEL] for c in claims.values()] == names
    pod = desired.deployment["spec"]["template"]["spec"]
    mounted = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]}
    assert mounted == {n: f"web-{n}" for n in names}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts == {n: f"/v/{i}" for i, n in enumerate(names)}
    for claim in claims.values():
        assert bool(claim["metadata"].get("ownerReferences")) == (policy == "Delete")


@given(st.lists(st.from_regex(r"/[^\x00-\x1f\x7f/]{1,30}(/[^\x00-\x1f\x7f/]{1,30}){0,2}",
                              fullmatch=True), min_size=1, max_size=10, unique=True))
def test_each_file_gets_its_own_valid_config_map_key(paths: list[str]) -> None:
    spec = AppSpec.model_validate({"image": "x", "files": [
        {"mountPath": p, "content": p} for p in paths]})
    config_map = render.render_config_map(APP, spec)
    assert config_map is not None
    keys = list(config_map["data"])
    assert len(set(keys)) == len(paths)
    assert all(re.fullmatch(model.CONFIG_KEY_PATTERN, k) and len(k) <= 253 for k in keys)
    assert list(config_map["data"].values()) == paths


@given(st.text(max_size=80))
def test_a_converted_name_is_a_kubernetes_name_or_refused(text: str) -> None:
    try:
        name = dns_label(text, "volume")
    except Refused:
        assert not re.search("[a-z0-9]", text.lower())
        return
    assert DNS_LABEL.fullmatch(name) and len(name) <= 63 and name[0].isalpha()


# Compose interpolation

variables = st.sampled_from(["A", "B", "LONG_NAME_2"])
environments = st.dictionaries(variables, st.text(max_size=5))
words = st.text(st.characters(blacklist_characters="}$", blacklist_categories=["Cs"]),
                max_size=12)


def expected(name: str, operator: str, word: str, environ: dict[str, str]) -> str:
    """Compose's rules, written out."""
    current = environ.get(name)
    empty = current is None or (current == "" and operator.startswith(":"))
    if operator.endswith("-"):
        return word if empty else str(current)
    if operator.endswith("+"):
        return "" if empty else word
    if empty:
        raise Refused(name)
    return str(current)


@given(variables, st.sampled_from([":-", "-", ":+", "+", ":?", "?"]), words, environments,
       words, words)
def test_interpolation_follows_composes_rules(name: str, operator: str, word: str,
                                              environ: dict[str, str], before: str,
                                              after: str) -> None:
    text = f"{before}${{{name}{operator}{word}}}{after}"
    try:
        value = expected(name, operator, word, environ)
    except Refused:
        with pytest.raises(Refused, match=f"variable {name} is required"):
            interpolate(text, environ, [])
        return
    assert interpolate(text, environ, []) == f"{before}{value}{after}"


@given(st.text(st.characters(blacklist_characters="$", blacklist_categories=["Cs"])),
       environments)
def test_text_without_a_dollar_is_left_as_it_is(text: str, environ: dict[str, str]) -> None:
    assert interpolate(text, environ, []) == text


@given(words, environments)
def test_a_doubled_dollar_is_one_dollar_and_never_a_variable(text: str,
                                                             environ: dict[str, str]) -> None:
    escaped = "$$" + text.replace("$", "")
    assert interpolate(escaped, environ, []) == "$" + text.replace("$", "")
    assert interpolate("$${A}", {"A": "x"}, []) == "${A}"


# Drift on lists

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
json_values = st.recursive(
    leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                    st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=20)


@given(json_values)
def test_an_object_never_differs_from_itself(value: Any) -> None:
    assert drift.differences(value, copy.deepcopy(value)) == []


@given(st.lists(leaves, max_size=6), st.lists(leaves, max_size=6))
def test_lists_without_a_merge_key_differ_unless_equal(desired: list[Any],
                                                       live: list[Any]) -> None:
    found = drift.differences({"args": desired}, {"args": live})
    if len(desired) != len(live):
        assert found == ["args"]
    else:
        assert (found == []) == (desired == live)


def env_lists(min_size: int) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.tuples(st.from_regex(r"[A-Z]{1,4}", fullmatch=True), st.text(max_size=4)),
                    min_size=min_size, max_size=6, unique_by=lambda e: e[0])


# The renderers never send an empty list (render.compact), so `ours` has an entry at least.
@given(env_lists(1), env_lists(0), st.randoms())
def test_merged_lists_compare_by_key_and_ignore_entries_of_others(
        ours: list[tuple[str, str]], theirs: list[tuple[str, str]], random: Any) -> None:
    """env (by name): order does not matter and entries another manager added are theirs;
    a missing or changed entry of ours is a difference."""
    desired = [{"name": n, "value": v} for n, v in ours]
    names = {n for n, _ in ours}
    live = desired + [{"name": n, "value": v} for n, v in theirs if n not in names]
    random.shuffle(live)
    assert drift.differences({"env": desired}, {"env": live}) == []
    victim = random.choice(desired)["name"]
    changed = [dict(e, value=e["value"] + "!") if e["name"] == victim else e for e in live]
    assert drift.differences({"env": desired}, {"env": changed}) == [f"env[{victim}].value"]
    missing = [e for e in live if e["name"] != victim]
    assert drift.differences({"env": desired}, {"env": missing}) == [f"env[{victim}]"]
