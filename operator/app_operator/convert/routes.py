"""What Traefik's labels say, as the App's `spec.route`.

Compose users describe how their services are reached by host name in the labels Traefik's
Docker provider reads (`traefik.http.routers.<r>.rule=Host(...)`). On Kubernetes the
ingress controller or a Gateway does Traefik's work, and `spec.route` says what to serve:
its host names, path prefixes, port and TLS. The labels are taken out of the App's pod
labels (they mean nothing to a pod); each is either carried over or named in a warning.
A web service published on the host without such labels gets a warning suggesting a route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from app_operator.core import model

if TYPE_CHECKING:
    from app_operator.convert.builder import Builder

TRAEFIK_PREFIX = "traefik."
_ROUTER_KEY = re.compile(r"traefik\.http\.routers\.([^.]+)\.(rule|tls|tls\.certresolver|"
                         r"entrypoints|service)", re.IGNORECASE)
_SERVICE_PORT_KEY = re.compile(r"traefik\.http\.services\.([^.]+)\.loadbalancer\.server\.port",
                               re.IGNORECASE)
# A rule has at most this many alternatives once its `||` are expanded; more is no route
# people write by hand, and expanding it further costs time for nothing.
_ALTERNATIVES_MAX = 256
# Images of reverse proxies that route by host name themselves: on Kubernetes the ingress
# controller or Gateway does their work, so the suggestion is a route on each App they served.
_PROXY_IMAGES = {"traefik", "library/traefik"}


class RuleError(ValueError):
    """A router's rule that has no `spec.route` equivalent; the message says why."""


@dataclass
class _Router:
    name: str
    rule: str | None = None
    tls: bool = False
    cert_resolver: str | None = None
    entrypoints: str | None = None
    service: str | None = None


@dataclass
class _Labels:
    """Traefik's labels of one service, read: its routers (in the order of their first
    label), the ports of its load-balancer services, and what is not carried over."""

    enable: str | None = None
    routers: dict[str, _Router] = field(default_factory=dict)
    ports: dict[str, str] = field(default_factory=dict)
    others: list[str] = field(default_factory=list)


def is_traefik_label(key: str) -> bool:
    return key.lower().startswith(TRAEFIK_PREFIX)


def _read(labels: dict[str, str]) -> _Labels:
    read = _Labels()
    for key, value in labels.items():
        router_key = _ROUTER_KEY.fullmatch(key)
        port_key = _SERVICE_PORT_KEY.fullmatch(key)
        if key.lower() == "traefik.enable":
            read.enable = value.strip().lower()
        elif router_key:
            router = read.routers.setdefault(router_key[1], _Router(router_key[1]))
            what = router_key[2].lower()
            if what == "rule":
                router.rule = value
            elif what == "tls":
                router.tls = value.strip().lower() == "true"
            elif what == "tls.certresolver":
                router.cert_resolver = value
            elif what == "entrypoints":
                router.entrypoints = value
            else:
                router.service = value
        elif port_key:
            read.ports[port_key[1]] = value
        else:
            read.others.append(key)
    return read


# ------------------------------------------------------------------------------- rules

_TOKEN = re.compile(r"\s*(?:(?P<op>&&|\|\||[!(),])|`(?P<bq>[^`]*)`|\"(?P<dq>(?:[^\"\\]|\\.)*)\"|"
                    r"(?P<name>[A-Za-z][A-Za-z0-9]*))")
# A conjunction of matchers: (name, argument) pairs; a rule is a list of them (its `||`).
_Conjunction = list[tuple[str, str]]


def _tokens(rule: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    rule = rule.rstrip()
    while position < len(rule):
        match = _TOKEN.match(rule, position)
        if match is None:
            raise RuleError(f"cannot read {rule[position:position + 20]!r}")
        position = match.end()
        if match["op"]:
            tokens.append(("op", match["op"]))
        elif match["name"]:
            tokens.append(("name", match["name"]))
        else:
            tokens.append(("str", match["bq"] if match["bq"] is not None else match["dq"]))
    return tokens


class _Parser:
    """Traefik's rule grammar, as far as spec.route can say it: matchers joined by `&&`
    (binding tighter) and `||`, with parentheses; read into its alternatives (the `||` of
    `&&`s), each a list of (matcher, argument)."""

    def __init__(self, rule: str) -> None:
        self.tokens = _tokens(rule)
        self.index = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self, kind: str, text: str | None = None) -> str:
        token = self._peek()
        if token is None or token[0] != kind or (text is not None and token[1] != text):
            found = "the end" if token is None else repr(token[1])
            raise RuleError(f"expected {text or kind} but found {found}")
        self.index += 1
        return token[1]

    def parse(self) -> list[_Conjunction]:
        result = self._or()
        extra = self._peek()
        if extra is not None:
            raise RuleError(f"unexpected {extra[1]!r}")
        return result

    def _or(self) -> list[_Conjunction]:
        result = self._and()
        while self._peek() == ("op", "||"):
            self.index += 1
            result = result + self._and()
        return result

    def _and(self) -> list[_Conjunction]:
        result = self._term()
        while self._peek() == ("op", "&&"):
            self.index += 1
            right = self._term()
            result = [left + other for left in result for other in right]
            if len(result) > _ALTERNATIVES_MAX:
                raise RuleError("too many alternatives")
        return result

    def _term(self) -> list[_Conjunction]:
        token = self._peek()
        if token == ("op", "!"):
            raise RuleError("a negation (!) has no equivalent")
        if token == ("op", "("):
            self.index += 1
            inner = self._or()
            self._take("op", ")")
            return inner
        name = self._take("name")
        self._take("op", "(")
        arguments = [self._take("str")]
        while self._peek() == ("op", ","):
            self.index += 1
            arguments.append(self._take("str"))
        self._take("op", ")")
        # Traefik v2 takes several arguments (`Host(`a`, `b`)`): any of them matches.
        return [[(name, argument)] for argument in arguments]


@dataclass
class RouteRule:
    hosts: list[str]
    paths: list[str]
    notes: list[str]


def parse_rule(rule: str) -> RouteRule:
    """The host names and path prefixes of a Traefik router rule. A rule matches the
    requests of any of its hosts on any of its paths, as a route does: `Host(a) || Host(b)`,
    `Host(a) && (PathPrefix(/x) || PathPrefix(/y))`. Anything else (HostRegexp, Headers,
    negations, a host with paths another host lacks) raises RuleError saying why."""
    alternatives = _Parser(rule).parse()
    hosts: list[str] = []
    paths: list[str] = []
    pairs: set[tuple[str, str]] = set()
    notes: list[str] = []
    for conjunction in alternatives:
        host: str | None = None
        path: str | None = None
        for name, argument in conjunction:
            matcher = name.lower()
            if matcher in ("host", "hostheader"):
                if host is not None and host != argument.lower():
                    raise RuleError(f"{name}(`{argument}`) && another Host never matches")
                host = argument.lower()
            elif matcher in ("pathprefix", "path"):
                if path is not None:
                    raise RuleError("two paths joined by && have no equivalent")
                path = argument
                if matcher == "path" and argument != "/":
                    notes.append(f"Path(`{argument}`) matches that path only; the route "
                                 f"matches it as a prefix ({argument} and below)")
            elif matcher == "hostregexp":
                raise RuleError(f"{name}(`{argument}`): a route takes host names, not "
                                "patterns (no wildcards either); list each host in "
                                "route.hosts")
            else:
                raise RuleError(f"{name}(`{argument}`): a route matches by host and path "
                                "prefix only")
        if host is None:
            raise RuleError("it names no host; a route needs host names")
        path = path or "/"
        hosts += [host] if host not in hosts else []
        paths += [path] if path not in paths else []
        pairs.add((host, path))
    for host in hosts:
        if not re.fullmatch(model.HOSTNAME_PATTERN, host) or len(host) > 253:
            raise RuleError(f"host `{host}` is no name a route serves (route.hosts takes DNS "
                            "names with a dot, without wildcards or IP addresses; an unset "
                            "${VAR} leaves it empty)")
    for path in paths:
        if not re.fullmatch(model.PATH_PREFIX_PATTERN, path):
            raise RuleError(f"path `{path}` is no prefix a route takes (route.paths: "
                            "segments of letters, digits and -._~, without percent escapes "
                            "or empty and dot segments)")
    if len(pairs) != len(hosts) * len(paths):
        raise RuleError("its hosts do not all have the same paths; a route serves every path "
                        "on every host (make one App's route per set of paths)")
    return RouteRule(hosts, paths, notes)


# ------------------------------------------------------------------------------- routes


def _gateway_parent(gateway: str) -> dict[str, Any]:
    """`NAME` or `NAMESPACE/NAME` of a Gateway as route.parent."""
    namespace, _, name = gateway.rpartition("/")
    reference: dict[str, Any] = {"name": name}
    if namespace:
        reference["namespace"] = namespace
    return {"gateway": reference}


def _example(builder: Builder, port: int | str | None = None) -> str:
    """A short spec.route for a warning, the App's name as the host's placeholder."""
    return (f"route: {{hosts: [{builder.name}.example.com]"
            + (f", port: {port}" if port else "") + "}")


def _route_port(builder: Builder, read: _Labels, router: _Router) -> int | str | None:
    """The port the router's service sends to (None: the App's first web port), or a
    warning (a str) when there is none to send to."""
    service = router.service or (next(iter(read.ports)) if len(read.ports) == 1 else None)
    if router.service is None and len(read.ports) > 1:
        return (f"router {router.name} names no service of the several of its labels "
                f"({', '.join(read.ports)}); set route.port")
    text = read.ports.get(service or "")
    if text is None:
        tcp = [p for p in builder.ports if p.protocol == "TCP"]
        if not tcp:
            return ("no port: Traefik sent the requests to the image's port, not known here; "
                    "add the port to spec.ports and " + _example(builder, port="PORT"))
        if any(model.derive_port_name(p.container) in ("http", "https") for p in tcp):
            return None
        if len(tcp) == 1:
            return tcp[0].container
        return (f"none of the ports {', '.join(str(p.container) for p in tcp)} is a web "
                "port and no traefik.http.services.*.loadbalancer.server.port label says "
                "which; set route.port")
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        return f"traefik.http.services.{service}.loadbalancer.server.port={text}: no port number"
    number = int(text)
    if not any(p.container == number and p.protocol == "TCP" for p in builder.ports):
        # Traefik reaches the container's port directly, published or not; the route goes
        # through the App's Service, which has only the App's ports.
        builder.add_port(number)
        builder.warn(f"port {number} added: traefik.http.services.{service}.loadbalancer."
                     "server.port sends the route's requests there")
    return number


def _same_rule(read: _Labels, router: _Router, rule: RouteRule) -> list[_Router]:
    """The other routers with the same hosts and paths: the usual pair of one router on
    `web` that redirects to HTTPS and one on `websecure` with TLS. They are one route, whose
    TLS is the secure router's."""
    same = []
    for other in read.routers.values():
        if other is router or other.rule is None:
            continue
        try:
            parsed = parse_rule(other.rule)
        except RuleError:
            continue
        if (set(parsed.hosts), set(parsed.paths)) == (set(rule.hosts), set(rule.paths)):
            same.append(other)
    return same


def _other_routers(builder: Builder, read: _Labels, router: _Router,
                   same: list[_Router]) -> None:
    if same:
        builder.warn(f"routers {', '.join(r.name for r in same)}: the same hosts and paths "
                     f"as router {router.name}: one route"
                     + (" (its TLS is theirs)" if any(r.tls or r.cert_resolver for r in same)
                        and not (router.tls or router.cert_resolver) else ""))
    others = [r.name for r in read.routers.values() if r is not router and r not in same]
    if others:
        builder.warn(f"routers {', '.join(others)}: not carried over; an App has one route, "
                     f"made from router {router.name}. Make another App for another route")


def _fallback(builder: Builder, read: _Labels, router: _Router) -> str:
    """The example route of a warning for a rule that is not carried over, with the port
    the router's service sends to: added to the App's ports, so that a route written by
    hand has it (and other Apps reach the App there, as Traefik did)."""
    port = _route_port(builder, read, router)
    return _example(builder, port=port if isinstance(port, int) else None)


def _tls(builder: Builder, router: _Router, gateway: str | None) -> dict[str, Any] | None:
    if not (router.tls or router.cert_resolver):
        return None
    secret = f"{builder.name}-tls"
    if gateway is not None:
        builder.warn(f"router {router.name}: tls: the certificate is the Gateway listener's "
                     "(its certificateRefs); name the Gateway's HTTPS listener in "
                     "route.parent.gateway.sectionName")
    elif router.cert_resolver:
        builder.warn(f"router {router.name}: tls.certresolver={router.cert_resolver}: "
                     "Traefik's certificate resolver is not carried over; with cert-manager, "
                     "set route.tls.issuer (or clusterIssuer) to an Issuer that does what "
                     f"{router.cert_resolver} did (e.g. ACME with Let's Encrypt): it fills "
                     f"the Secret {secret} (route.tls.secretName). Until then the ingress "
                     "controller's default certificate is served")
    else:
        builder.warn(f"router {router.name}: tls=true: the ingress controller's default "
                     f"certificate is served; to serve yours create the Secret {secret} "
                     f"(`kubectl create secret tls {secret} --cert=CERT.pem --key=KEY.pem`) "
                     f"and set route.tls.secretName: {secret}, or let cert-manager fill it: "
                     "route.tls.issuer")
    return {}


def traefik_route(builder: Builder, gateway: str | None) -> None:
    """The App's route from its service's Traefik labels (builder.traefik), or a warning
    saying why there is none; called by Builder.build once the App's ports are known."""
    if not builder.traefik:
        return
    read = _read(builder.traefik)
    if read.others:
        builder.warn(f"{', '.join(read.others)}: not carried over (Traefik's middlewares "
                     "and options have no App equivalent; the ingress controller's or "
                     "Gateway's own settings do that work)")
    if read.enable == "false":
        if read.routers:
            builder.warn("traefik.enable=false: no route; its router labels are left out")
        return
    routers = [r for r in read.routers.values() if r.rule is not None]
    if not routers:
        if read.enable == "true" or read.routers:
            builder.warn("no traefik.http.routers.*.rule: Traefik's default rule (a host made "
                         "from the container's name) is not known here; to reach it by host "
                         "name add " + _example(builder))
        return
    router = routers[0]
    try:
        rule = parse_rule(router.rule or "")
    except RuleError as error:
        _other_routers(builder, read, router, [])
        builder.warn(f"router {router.name}: rule {router.rule}: not carried over: {error}. "
                     "Write the App's route yourself, e.g. " + _fallback(builder, read, router))
        return
    same = _same_rule(read, router, rule)
    _other_routers(builder, read, router, same)
    secure = next((r for r in [router, *same] if r.tls or r.cert_resolver), router)
    route: dict[str, Any] = {"hosts": rule.hosts}
    if rule.paths != ["/"]:
        route["paths"] = rule.paths
    if gateway is not None:
        route["parent"] = _gateway_parent(gateway)
    try:
        model.Route.model_validate(route)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in error.errors())
        builder.warn(f"router {router.name}: rule {router.rule}: not carried over: "
                     f"{problems}. Write the App's route yourself, e.g. "
                     + _fallback(builder, read, router))
        return
    port = _route_port(builder, read, router)
    if isinstance(port, str):
        builder.warn(f"router {router.name}: no route: {port}")
        return
    if port is not None:
        route["port"] = port
    for note in rule.notes:
        builder.warn(f"router {router.name}: {note}")
    tls = _tls(builder, secure, gateway)
    if tls is not None:
        route["tls"] = tls
    if router.entrypoints:
        builder.warn(f"router {router.name}: entrypoints={router.entrypoints}: not carried "
                     "over; " + ("name a listener of the Gateway in "
                                 "route.parent.gateway.sectionName" if gateway else
                                 "an Ingress is served on the ingress controller's ports"))
    order = ["hosts", "paths", "port", "tls", "parent"]
    route = {key: route[key] for key in order if key in route}
    builder.spec["route"] = route


def route_suggestion(builder: Builder) -> str | None:
    """For the warning on ports published on the host: a web service without a route (and
    without Traefik labels, which say why it has none) is reached from outside by host
    name through a route; the words that suggest it, with a short example."""
    if builder.traefik or "route" in builder.spec:
        return None
    port = next((c for _, c, p in builder.published
                 if p == "TCP" and c in model.WEB_PORTS), None)
    if port is None:
        return None
    image = str(builder.spec.get("image", "")).split("@")[0]
    if image.rsplit(":", 1)[0].removeprefix("docker.io/") in _PROXY_IMAGES:
        return ("the ingress controller or a Gateway, which do a reverse proxy's work on "
                "Kubernetes: give each App it served a route by host name "
                "(`route: {hosts: [APP.example.com]}`)")
    return (f"a route by host name (`{_example(builder, port=port)}` in the App: an Ingress "
            "of the cluster's default class, or route.parent.gateway for a Gateway)")
