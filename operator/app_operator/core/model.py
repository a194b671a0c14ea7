"""The App resource: the one place where a field is declared.

The pydantic models parse and validate an App's spec for the operator, and `crd.py` turns
them into the CRD's OpenAPI schema, so `kubectl explain` shows these docstrings and the API
server enforces the same constraints (plus the CEL rules attached through `json_schema_extra`)
at `kubectl apply` time. The Python validators repeat the cross-field rules so that the model
is safe to use on its own (the converter, unit tests) without an API server.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

GROUP = "appoperator.dev"
VERSION = "v1alpha1"
KIND = "App"
PLURAL = "apps"
SINGULAR = "app"
# Argo CD's Application has the short names `app` and `apps`: which resource `kubectl get app`
# means then depends on kubectl's version. `appop` is this CRD's own; `apps.appoperator.dev`
# is never ambiguous.
SHORT_NAMES = ("appop",)
API_VERSION = f"{GROUP}/{VERSION}"

# Resource quantities ("500m", "1Gi", "2", "1e3"), in a stricter form than Kubernetes' own
# grammar: bounded digits and a two-digit exponent at most. kube-apiserver parses a quantity
# such as "1e99999999999" by computing the number in full, which takes minutes of CPU and
# gigabytes of memory and cannot be cancelled; the schema refuses such values before any CEL
# quantity() call or any child object could make the API server parse one.
QUANTITY_PATTERN = (
    r"^([0-9]{1,18}(\.[0-9]{1,9})?|\.[0-9]{1,9})"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE][-+]?[0-9]{1,2}))?$"
)
QUANTITY_MAX_LENGTH = 32
# Kubernetes' own grammar, for quantities the API server wrote (its canonical form may have
# more digits than an App may: "1000000000000000.1" comes back as "1000000000000000100m").
SERVER_QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# Integers in a quantity field: up to 2^53 - 1, the largest a JSON number keeps exactly.
QUANTITY_MAX_INT = 2**53 - 1
INT32_MAX = 2**31 - 1
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CONFIG_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
# Printable ASCII without '=', as Kubernetes allows in variable names.
ENV_NAME_PATTERN = r"^[ -<>-~]+$"
# Text that may span lines (arguments, values): no control characters but tab, LF and CR.
TEXT_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
# One line of text (paths): no control characters at all.
LINE_PATTERN = r"^[^\x00-\x1F\x7F]*$"
IMAGE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$"
# Label and annotation keys: an optional DNS subdomain prefix and a name of at most 63
# characters (Kubernetes' "qualified name").
QUALIFIED_NAME_PATTERN = (
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
QUALIFIED_NAME_MAX_LENGTH = 317
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
SELECTOR_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance")
SINGLE_NODE_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod")

# Pod annotations that change a pod's security or its runtime's behaviour (AppArmor and
# seccomp profiles, container runtime options): the App's securityProfile is the only way
# to set those. Keys in the reserved kubernetes.io and k8s.io namespaces are refused except
# these, which change nothing about what the pod may do.
RESERVED_ANNOTATION_PATTERN = r"^([^/]*\.)?(kubernetes\.io|k8s\.io)/"
RUNTIME_ANNOTATION_PATTERN = (
    r"^(io\.kubernetes\.|io\.containerd\.|io\.katacontainers\.|run\.oci\.|dev\.gvisor\.)")
# Other pod annotations that give a pod what its author could not otherwise ask for, refused
# family by family with the reason (issue 23): each is read by a component a cluster may run
# (a CNI plugin, a service mesh's injector, a cloud identity webhook, Vault's injector) and
# changes what the pod can reach or who it is, which only the cluster's administrators may
# decide. The keys are matched on their DNS prefix, so that a vendor's other subdomains are
# covered too (`traffic.sidecar.istio.io/`, `config.linkerd.io/`).
REFUSED_POD_ANNOTATION_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"^([^/]*\.)?(cni\.cncf\.io|multus-cni\.io|projectcalico\.org|cilium\.io)/",
     "would change the pod's network attachments or addresses (CNI)"),
    (r"^([^/]*\.)?(istio\.io|linkerd\.io|consul\.hashicorp\.com|kuma\.io)/",
     "would change the service mesh's sidecar or traffic interception"),
    (r"^([^/]*\.)?(amazonaws\.com|azure\.workload\.identity|gke\.io|"
     r"vault\.hashicorp\.com)/",
     "would give the pod a cloud or secrets identity (IAM role, workload identity, Vault)"),
)
ALLOWED_RESERVED_ANNOTATIONS = (
    "kubectl.kubernetes.io/default-container",
    "kubectl.kubernetes.io/default-logs-container",
    "cluster-autoscaler.kubernetes.io/safe-to-evict",
)
ALLOWED_RESERVED_PREFIX = "app.kubernetes.io/"

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
}


def parse_quantity(value: str | int, strict: bool = True) -> Decimal:
    """The numeric value of a quantity, so "1Gi" and "1024Mi" compare equal. Only the strict
    form of QUANTITY_PATTERN is read: what it refuses, the App refuses too. `strict=False`
    reads what the API server writes back (any length, Kubernetes' grammar)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if strict and not 0 <= value <= QUANTITY_MAX_INT:
            raise ValueError(f"{value} is not a quantity (0 to {QUANTITY_MAX_INT})")
        return Decimal(value)
    text = str(value)
    if not strict:
        if len(text) > 64 or not re.fullmatch(SERVER_QUANTITY_PATTERN, text):
            raise ValueError(f"{value!r} is not a quantity")
    elif len(text) > QUANTITY_MAX_LENGTH or not re.fullmatch(QUANTITY_PATTERN, text):
        raise ValueError(f"{value!r} is not a quantity (examples: 500m, 128Mi, 1Gi, 2, 1e3; "
                         "at most 18 digits and a two-digit exponent)")
    for suffix, factor in _BINARY_SUFFIXES.items():
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * factor
    match = re.fullmatch(r"(.*?)([eE][-+]?[0-9]+)?([numkMGTPE]?)", text)
    assert match is not None  # the pattern above guarantees a match
    number, exponent, suffix = match.groups()
    result = Decimal(number + (exponent or ""))
    return result * _DECIMAL_SUFFIXES[suffix]


# Kubernetes keeps a quantity as a 64-bit integer where it can: a larger value is stored as
# 2^63 - 1 in some places (a claim's storage of "8Ei") and as written in others, so it would
# never compare equal to what the App says. Quantities stay below 8Ei = 2^63.
QUANTITY_LIMIT = "8Ei"


def _check_quantity(value: int | str) -> int | str:
    if parse_quantity(value) >= parse_quantity(QUANTITY_LIMIT):
        raise ValueError(f"{value!r} is too large: a quantity must be less than "
                         f"{QUANTITY_LIMIT}")
    return value


def _quantity_rule(field: str, path: str) -> tuple[str, str, str]:
    """CEL: the field, when set and of the strict form, is less than QUANTITY_LIMIT."""
    name = field.replace("-", "__dash__")  # how CEL spells a property with a dash
    text = f"string(self.{name})"
    return (f"!has(self.{name}) || !{cel_matches(text, QUANTITY_PATTERN)} || "
            f"quantity({text}).isLessThan(quantity('{QUANTITY_LIMIT}'))",
            f"a quantity must be less than {QUANTITY_LIMIT}", path)


def _cel_quote(text: str) -> str:
    """A CEL single-quoted string literal of `text` (a regular expression, say)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cel_matches(expression: str, pattern: str) -> str:
    return f"{expression}.matches({_cel_quote(pattern)})"


Quantity = Annotated[
    int | str,
    AfterValidator(_check_quantity),
    WithJsonSchema(
        {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "maxLength": QUANTITY_MAX_LENGTH,
            "minimum": 0,
            "maximum": QUANTITY_MAX_INT,
        }
    ),
]


def _check_port_ref(value: int | str) -> int | str:
    if isinstance(value, int):
        if not 1 <= value <= 65535:
            raise ValueError(f"port {value} is not between 1 and 65535")
    elif not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", value) or len(value) > 15:
        raise ValueError(f"port {value!r} is neither a number nor a port name")
    return value


PortRef = Annotated[
    int | str,
    AfterValidator(_check_port_ref),
    WithJsonSchema(
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}],
         "minimum": 1, "maximum": 65535, "maxLength": 15, "pattern": DNS_LABEL_PATTERN}
    ),
]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
Int32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(ge=1, le=INT32_MAX)]
DnsSubdomain = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)]
Argument = Annotated[str, Field(max_length=4096, pattern=TEXT_PATTERN)]
AbsolutePath = Annotated[str, Field(max_length=4096, pattern=r"^/[^\x00-\x1F\x7F]*$")]


def _cel(*rules: tuple[str, str] | tuple[str, str, str] | dict[str, str]) -> dict[str, Any]:
    """CEL rules for the CRD's x-kubernetes-validations: (rule, message[, field path]), or a
    dict for rules with a messageExpression."""
    validations = []
    for rule in rules:
        if isinstance(rule, dict):
            validations.append(rule)
            continue
        entry = {"rule": rule[0], "message": rule[1]}
        if len(rule) == 3:
            entry["fieldPath"] = rule[2]
        validations.append(entry)
    return {"x-kubernetes-validations": validations}


def _map_list(*keys: str) -> dict[str, Any]:
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


def utf8_size(text: str) -> int:
    """Bytes as the API server stores a string (UTF-8): a limit in characters let an App of
    4-byte emoji be four times the size it was meant to have (issue 23)."""
    return len(text.encode("utf-8", "surrogatepass"))


def cel_bytes(expression: str) -> str:
    """The CEL twin of utf8_size: a string's size() counts code points, its bytes' size
    counts what is stored."""
    return f"bytes({expression}).size()"


def _total_size(what: str, limit: int, sizes: list[int]) -> None:
    if sum(sizes) > limit:
        raise ValueError(f"{what}: {sum(sizes)} bytes in all (UTF-8), more than {limit}")


def _argument_list(what: str, max_items: int, max_total: int) -> Any:
    """A list of arguments: at most `max_items`, `max_total` bytes in all."""
    def check(values: list[str]) -> list[str]:
        _total_size(what, max_total, [utf8_size(v) for v in values])
        return values

    return Annotated[
        list[Argument],
        Field(max_length=max_items, json_schema_extra=_cel(
            (f"self.map(a, {cel_bytes('a')}).sum() <= {max_total}",
             f"{what}: at most {max_total} bytes in all (UTF-8)"))),
        AfterValidator(check),
    ]


def security_annotation(key: str) -> bool:
    """Whether a pod annotation key would change the pod's security or runtime options."""
    if re.match(RUNTIME_ANNOTATION_PATTERN, key):
        return True
    return bool(re.match(RESERVED_ANNOTATION_PATTERN, key)) and not (
        key in ALLOWED_RESERVED_ANNOTATIONS or key.startswith(ALLOWED_RESERVED_PREFIX))


def refused_pod_annotation(key: str) -> str | None:
    """Why a pod annotation key is refused, or None: the reason names what it would do."""
    if security_annotation(key):
        return ("would change the pod's security or container runtime options; use "
                "securityProfile instead")
    for pattern, reason in REFUSED_POD_ANNOTATION_FAMILIES:
        if re.match(pattern, key):
            return reason
    return None


def _string_map(what: str, *, max_items: int, value_max: int, total_max: int,
                value_pattern: str = TEXT_PATTERN, pod_annotations: bool = False) -> Any:
    """A map of label or annotation keys to strings, bounded in count, key and value length
    and in total size. Structural schemas cannot constrain map keys, so CEL does; pydantic
    checks the same in Python."""
    key_rule = (f"self.all(k, k.size() <= {QUALIFIED_NAME_MAX_LENGTH} && "
                f"{cel_matches('k', QUALIFIED_NAME_PATTERN)})")
    rules: list[dict[str, str]] = [
        {"rule": key_rule,
         "messageExpression": f"'{what}: ' + self.filter(k, !(k.size() <= "
                              f"{QUALIFIED_NAME_MAX_LENGTH} && "
                              f"{cel_matches('k', QUALIFIED_NAME_PATTERN)}))[0] + ' is not a "
                              "valid key (an optional DNS subdomain prefix and /, then at most "
                              "63 letters, digits, -, _ or .)'"},
        {"rule": f"self.map(k, {cel_bytes('k')} + {cel_bytes('self[k]')}).sum() <= {total_max}",
         "message": f"{what}: at most {total_max} bytes in all (UTF-8)"},
    ]
    if pod_annotations:
        refused = (f"({cel_matches('k', RUNTIME_ANNOTATION_PATTERN)} || "
                   f"({cel_matches('k', RESERVED_ANNOTATION_PATTERN)} && "
                   f"!k.startsWith({_cel_quote(ALLOWED_RESERVED_PREFIX)}) && "
                   f"!(k in [{', '.join(_cel_quote(a) for a in ALLOWED_RESERVED_ANNOTATIONS)}])))")
        rules.append({
            "rule": f"!self.exists(k, {refused})",
            "messageExpression": f"'{what}: ' + self.filter(k, {refused})[0] + ' would change "
                                 "the pod\\'s security or container runtime options; use "
                                 "securityProfile, runAsUser, runAsGroup and fsGroup instead'"})
        for pattern, reason in REFUSED_POD_ANNOTATION_FAMILIES:
            family = cel_matches("k", pattern)
            rules.append({
                "rule": f"!self.exists(k, {family})",
                "messageExpression": f"'{what}: ' + self.filter(k, {family})[0] + "
                                     f"{_cel_quote(' ' + reason)}"})

    def check(values: dict[str, str]) -> dict[str, str]:
        for key in values:
            if len(key) > QUALIFIED_NAME_MAX_LENGTH or not re.fullmatch(
                    QUALIFIED_NAME_PATTERN, key):
                raise ValueError(f"{what}: {key[:80]!r} is not a valid key")
            refusal = refused_pod_annotation(key) if pod_annotations else None
            if refusal is not None:
                raise ValueError(f"{what}: {key} {refusal}")
        _total_size(what, total_max, [utf8_size(k) + utf8_size(v) for k, v in values.items()])
        return values

    return Annotated[
        dict[str, Annotated[str, Field(max_length=value_max, pattern=value_pattern)]],
        WithJsonSchema({
            "type": "object",
            "additionalProperties": {"type": "string", "maxLength": value_max,
                                     "pattern": value_pattern},
            "maxProperties": max_items,
            "x-kubernetes-validations": rules,
        }),
        Field(max_length=max_items),
        AfterValidator(check),
    ]


class Model(BaseModel):
    """camelCase in YAML, snake_case in Python; unknown fields are an error, not a silent drop."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        frozen=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """The YAML/JSON form, without the fields that were never set."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class KeyRef(Model):
    name: DnsSubdomain
    """Name of the Secret or ConfigMap, in the App's namespace."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=CONFIG_KEY_PATTERN)]
    """Key inside it whose value becomes the variable."""
    optional: bool | None = None
    """Start the container even when the object or key is missing (the variable is then unset)."""


class EnvVarSource(Model, json_schema_extra=_cel(
    ("has(self.secretKeyRef) != has(self.configMapKeyRef)",
     "valueFrom needs exactly one of secretKeyRef or configMapKeyRef"),
)):
    secret_key_ref: KeyRef | None = None
    """Take the value from a key of a Secret (keeps passwords out of the App)."""
    config_map_key_ref: KeyRef | None = None
    """Take the value from a key of a ConfigMap."""

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvVarSource:
        if (self.secret_key_ref is None) == (self.config_map_key_ref is None):
            raise ValueError("valueFrom needs exactly one of secretKeyRef or configMapKeyRef")
        return self


ENV_TOTAL_MAX = 131072


class EnvVar(Model, json_schema_extra=_cel(
    ("!(has(self.value) && has(self.valueFrom))", "give either value or valueFrom, not both"),
)):
    """An environment variable, like `docker run -e NAME=value` or Dockerfile `ENV`."""

    name: Annotated[str, Field(min_length=1, max_length=253, pattern=ENV_NAME_PATTERN)]
    """Variable name."""
    value: Annotated[str, Field(max_length=32768, pattern=TEXT_PATTERN)] | None = None
    """Literal value."""
    value_from: EnvVarSource | None = None
    """Read the value from a Secret or ConfigMap key instead of writing it here."""

    @model_validator(mode="after")
    def _one_source(self) -> EnvVar:
        if self.value is not None and self.value_from is not None:
            raise ValueError(f"env {self.name}: give either value or valueFrom, not both")
        return self


def _check_env_total(env: list[EnvVar]) -> list[EnvVar]:
    _total_size("env", ENV_TOTAL_MAX, [utf8_size(e.value or "") for e in env])
    return env


class ObjectRef(Model):
    name: DnsSubdomain
    """Name of the object, in the App's namespace."""
    optional: bool | None = None
    """Start the container even when the object is missing."""


class EnvFromSource(Model, json_schema_extra=_cel(
    ("has(self.configMapRef) != has(self.secretRef)",
     "envFrom entries need exactly one of configMapRef or secretRef"),
)):
    """All keys of a ConfigMap or Secret as variables, like `docker run --env-file`."""

    config_map_ref: ObjectRef | None = None
    """Every key of this ConfigMap becomes a variable."""
    secret_ref: ObjectRef | None = None
    """Every key of this Secret becomes a variable."""
    prefix: Annotated[str, Field(max_length=253, pattern=r"^[ -<>-~]*$")] | None = None
    """Put this in front of every variable name."""

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvFromSource:
        if (self.config_map_ref is None) == (self.secret_ref is None):
            raise ValueError("envFrom entries need exactly one of configMapRef or secretRef")
        return self


# The port numbers taken for HTTP when an App neither names a port nor gives its
# appProtocol: the defaults of common web servers and frameworks (80 and 8080: web servers;
# 3000: Node.js, Rails, Grafana; 5000: Flask; 8000: Django, Uvicorn; 8888: Jupyter) and of
# HTTPS (443, 8443). Service meshes (Istio among them) pick a port's protocol from its
# appProtocol or name, so a guess of `http` on a database port makes them parse its traffic
# as HTTP: any other port is named `tcp-<port>` and carried as plain TCP.
WEB_PORTS = {80: "http", 3000: "http", 5000: "http", 8000: "http", 8080: "http", 8888: "http",
             443: "https", 8443: "https"}
# The appProtocol values Kubernetes defines itself, with the port-name protocol meshes know.
KUBERNETES_APP_PROTOCOLS = {"kubernetes.io/h2c": "http2", "kubernetes.io/ws": "http",
                            "kubernetes.io/wss": "https"}
PORT_NAME_MAX_LENGTH = 15


def is_port_name(text: str) -> bool:
    """An IANA service name, as Kubernetes requires of a port name."""
    return (len(text) <= PORT_NAME_MAX_LENGTH and re.fullmatch(DNS_LABEL_PATTERN, text) is not None
            and re.search("[a-z]", text) is not None and "--" not in text)


def app_protocol_name(app_protocol: str) -> str | None:
    """The protocol an appProtocol says, in the form of a port name (`HTTP` gives `http`,
    `kubernetes.io/h2c` gives `http2`), or None when it has no such form (a protocol of
    another domain, `example.com/custom`, or a name no port may have)."""
    if app_protocol in KUBERNETES_APP_PROTOCOLS:
        return KUBERNETES_APP_PROTOCOLS[app_protocol]
    lowered = app_protocol.lower()
    return lowered if is_port_name(lowered) else None


def derive_port_name(container_port: int, protocol: str = "TCP",
                     app_protocol: str | None = None) -> str:
    """The name of a port that has none: what its appProtocol says; else, for an App that
    says nothing, `http`/`https` on a TCP port of WEB_PORTS; else `<protocol>-<port>`.
    The converter calls this too, so that it leaves out exactly the names this derives."""
    if app_protocol is not None:
        said = app_protocol_name(app_protocol)
        if said is not None:
            return said
    elif protocol == "TCP" and container_port in WEB_PORTS:
        return WEB_PORTS[container_port]
    return f"{protocol.lower()}-{container_port}"


class Port(Model, json_schema_extra=_cel(
    ("!has(self.name) || (self.name.matches('[a-z]') && !self.name.contains('--'))",
     "a port name needs at least one letter and no '--' (IANA service name)", ".name"),
)):
    """A port the container listens on (Dockerfile `EXPOSE`), published like `docker run -p`."""

    name: Annotated[str, Field(max_length=PORT_NAME_MAX_LENGTH,
                               pattern=DNS_LABEL_PATTERN)] | None = None
    """Port name (lowercase letters, digits, '-'; at most 15 characters), e.g. `http`.
    Probes may refer to the port by this name, and service meshes such as Istio read the
    protocol from it (`http`, `http-admin`, `https`, `grpc`; others are plain TCP). When
    omitted, the name is what appProtocol says (`http`, `grpc`; `kubernetes.io/h2c` gives
    `http2`); else `http` for TCP ports 80, 3000, 5000, 8000, 8080 and 8888 and `https` for
    443 and 8443, the defaults of web servers; else `<protocol>-<containerPort>` (`tcp-5432`,
    `udp-53`). A name another port has already gets the port number added (`http-8000`), or
    a count (`tcp-80-2`)."""
    container_port: PortNumber
    """Port the process listens on inside the container: the right side of `-p 8080:80`."""
    service_port: PortNumber | None = None
    """Port of the Service in front of the App (defaults to containerPort): the address
    other pods use is `<app>.<namespace>:<servicePort>`."""
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    """TCP, UDP or SCTP, like `-p 53:53/udp`."""
    app_protocol: Annotated[str, Field(max_length=QUALIFIED_NAME_MAX_LENGTH,
                                       pattern=QUALIFIED_NAME_PATTERN)] | None = None
    """What the port serves, set as the Service port's `appProtocol`, which service meshes
    and gateways read: an IANA service name (`http`, `https`, `grpc`, `postgresql`,
    `redis`), `kubernetes.io/h2c` (HTTP/2 without TLS), `kubernetes.io/ws` or
    `kubernetes.io/wss` (WebSocket), or `<domain>/<name>`. It also names a port without a
    name. `status.url` shows the first port serving HTTP or HTTPS: by this field (`http`,
    `https`, `http2`, the kubernetes.io ones) when it is set, else by the name."""
    node_port: Annotated[int, Field(ge=30000, le=32767)] | None = None
    """Fixed port on every node (30000-32767), the closest thing to the left side of
    `-p 8080:80`; needs service.type NodePort or LoadBalancer."""

    @model_validator(mode="after")
    def _iana_name(self) -> Port:
        # Kubernetes requires port names to be IANA service names.
        if self.name is not None and (not re.search("[a-z]", self.name) or "--" in self.name):
            raise ValueError(f"port name {self.name!r} needs at least one letter and no '--'")
        return self

    def derived_name(self) -> str:
        """The name the port is given when it has none (derive_port_name)."""
        return derive_port_name(self.container_port, self.protocol, self.app_protocol)


class ServiceSpec(Model):
    """How the App's ports are published."""

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    """ClusterIP: reachable inside the cluster; NodePort: also on a port of every node;
    LoadBalancer: also through the cloud's load balancer."""
    annotations: _string_map(  # type: ignore[valid-type]
        "service.annotations", max_items=64, value_max=8192, total_max=65536) | None = None
    """Annotations for the Service, e.g. for a cloud load balancer (at most 64, 64 KiB in
    all)."""


# Host names a route may serve: DNS names in lowercase with at least one dot, the last
# label starting with a letter (no IP address, which neither Ingress nor Gateway API take),
# and no wildcard (a wildcard would make one App's route take every host of a domain, other
# Apps' included).
HOSTNAME_PATTERN = (r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
                    r"\.[a-z]([-a-z0-9]*[a-z0-9])?$")
# Path prefixes: `/`, or segments of URL-safe characters without `.` and `..` segments, an
# empty segment (`//`) or percent escapes, which gateways and ingress controllers read in
# different ways (Gateway API refuses most of them in its own schema).
PATH_PREFIX_PATTERN = r"^/$|^(/\.?[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/?$"
GATEWAY_GROUP = "gateway.networking.k8s.io"
# The annotations cert-manager's ingress-shim reads on an Ingress.
CERT_MANAGER_ISSUER = "cert-manager.io/issuer"
CERT_MANAGER_CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"


def web_scheme(app_protocol: str | None, name: str) -> str | None:
    """`http` or `https` when a port serves the web, as its appProtocol says, else its name
    (given or derived) in the service-mesh convention `<protocol>[-<suffix>]` (`http`,
    `http2`, `https-admin`; `web` and `www` too); None for any other port (a database, a
    queue): an address like `http://db:5432` would be wrong, and so would a route to it."""
    if app_protocol is not None:
        said = app_protocol_name(app_protocol) or ""
    else:
        name = name.lower()
        said = "http" if name in ("web", "www") else name.split("-", 1)[0]
    if said in ("http", "http2"):
        return "http"
    return "https" if said == "https" else None


class RouteGateway(Model):
    """A Gateway (Gateway API) the route attaches to; its listeners' `allowedRoutes` decide
    whether it may."""

    name: DnsSubdomain
    """Name of the Gateway."""
    namespace: Annotated[str, Field(max_length=63, pattern=DNS_LABEL_PATTERN)] | None = None
    """Namespace of the Gateway; the App's namespace when omitted."""
    section_name: Annotated[str, Field(max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)] | None = (
        None)
    """Name of one listener of the Gateway (e.g. `websecure` for its HTTPS listener); every
    listener that allows the route when omitted."""


class RouteParent(Model, json_schema_extra=_cel(
    ("has(self.gateway) != has(self.ingressClassName)",
     "route.parent needs exactly one of gateway or ingressClassName"),
)):
    """What serves the route: a Gateway (the operator makes an HTTPRoute) or an ingress
    class (the operator makes an Ingress)."""

    gateway: RouteGateway | None = None
    """Attach an HTTPRoute (gateway.networking.k8s.io/v1) to this Gateway. Needs the Gateway
    API CRDs in the cluster."""
    ingress_class_name: DnsSubdomain | None = None
    """Make an Ingress (networking.k8s.io/v1) of this IngressClass, e.g. `traefik` or
    `nginx`."""

    @model_validator(mode="after")
    def _exactly_one(self) -> RouteParent:
        if (self.gateway is None) == (self.ingress_class_name is None):
            raise ValueError("route.parent needs exactly one of gateway or ingressClassName")
        return self


class RouteTls(Model, json_schema_extra=_cel(
    ("!(has(self.issuer) && has(self.clusterIssuer))",
     "route.tls: give issuer or clusterIssuer, not both"),
)):
    """HTTPS for the route. With an Ingress: the certificate is the Secret `secretName`,
    which cert-manager fills when an issuer is given. With a Gateway: the certificate is
    the Gateway listener's (its `certificateRefs`), and this only says that the route is
    served over HTTPS (name the HTTPS listener in parent.gateway.sectionName)."""

    secret_name: DnsSubdomain | None = None
    """Secret of type kubernetes.io/tls holding the certificate and key, in the App's
    namespace (Ingress only). Its author must be allowed to `get` it. With an issuer it
    defaults to `<app>-tls`; without either, the ingress controller's default certificate
    is used."""
    issuer: DnsSubdomain | None = None
    """cert-manager Issuer (in the App's namespace) that issues the certificate into
    secretName: written on the Ingress as the annotation `cert-manager.io/issuer`."""
    cluster_issuer: DnsSubdomain | None = None
    """cert-manager ClusterIssuer that issues the certificate into secretName: written on
    the Ingress as the annotation `cert-manager.io/cluster-issuer`."""

    @model_validator(mode="after")
    def _one_issuer(self) -> RouteTls:
        if self.issuer is not None and self.cluster_issuer is not None:
            raise ValueError("route.tls: give issuer or clusterIssuer, not both")
        return self


Hostname = Annotated[str, Field(min_length=1, max_length=253, pattern=HOSTNAME_PATTERN)]
PathPrefix = Annotated[str, Field(min_length=1, max_length=256, pattern=PATH_PREFIX_PATTERN)]


class Route(Model, json_schema_extra=_cel(
    ("!has(self.tls) || !has(self.parent) || !has(self.parent.gateway) || "
     "(!has(self.tls.secretName) && !has(self.tls.issuer) && !has(self.tls.clusterIssuer))",
     "route.tls: with a Gateway the certificate is the Gateway listener's (its "
     "certificateRefs); give tls: {} and name the HTTPS listener in "
     "parent.gateway.sectionName", ".tls"),
)):
    """Reach the App from outside the cluster by host name: an HTTPRoute (Gateway API) or
    an Ingress in front of the App's Service, like a reverse proxy's `Host(...)` rule."""

    hosts: Annotated[list[Hostname], Field(min_length=1, max_length=16, json_schema_extra={
        "x-kubernetes-list-type": "set"})]
    """Host names that reach the App, e.g. `flask.example.com` (no wildcards). A host that
    another App's route already serves (with the same path, or at all when that App is in
    another namespace) is refused: the App is Stalled with reason HostConflict."""
    paths: Annotated[list[PathPrefix], Field(min_length=1, max_length=16, json_schema_extra={
        "x-kubernetes-list-type": "set"})] = ["/"]
    """Path prefixes that reach the App (default `/`: every path), matched by whole
    segments: `/api` matches `/api` and `/api/v1`, not `/apis`."""
    port: PortRef | None = None
    """Which of spec.ports receives the traffic: its name, or its containerPort. Default:
    the first port that serves HTTP or HTTPS (by its appProtocol or name, as status.url
    judges it)."""
    tls: RouteTls | None = None
    """Serve the hosts over HTTPS (status.url then starts with `https://`)."""
    parent: RouteParent | None = None
    """A Gateway or an ingress class. When omitted: an Ingress of the cluster's default
    IngressClass."""

    @model_validator(mode="after")
    def _tls_with_gateway(self) -> Route:
        for field, values in (("hosts", self.hosts), ("paths", self.paths)):
            if len(set(values)) < len(values):
                raise ValueError(f"route.{field}: an entry is given twice")
        tls, parent = self.tls, self.parent
        if tls is not None and parent is not None and parent.gateway is not None and (
                tls.secret_name or tls.issuer or tls.cluster_issuer):
            raise ValueError("route.tls: with a Gateway the certificate is the Gateway "
                             "listener's (its certificateRefs); give tls: {} and name the "
                             "HTTPS listener in parent.gateway.sectionName")
        return self


# quantity() runs only on sizes of the strict form: a failing pattern does not stop the API
# server from evaluating the CEL rules of the same object.
_SIZE_OK = (f"self.size.size() <= {QUANTITY_MAX_LENGTH} && "
            f"{cel_matches('self.size', QUANTITY_PATTERN)}")


DEFAULT_VOLUME_SIZE = "1Gi"
DEFAULT_ACCESS_MODE = "ReadWriteOnce"
AccessMode = Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"]
# CEL: a volume's access mode, or its default when it has none (a shared claim has neither).
_CEL_MODE = f"(has(self.accessMode) ? self.accessMode : '{DEFAULT_ACCESS_MODE}')"
_CEL_OLD_MODE = f"(has(oldSelf.accessMode) ? oldSelf.accessMode : '{DEFAULT_ACCESS_MODE}')"
SHARED_CLAIM_MESSAGE = ("a volume with claimName mounts an existing claim that the App does "
                        "not own: size, storageClassName and accessMode belong to that claim "
                        "and may not be given")


class Volume(Model, json_schema_extra=_cel(
    (f"!has(self.size) || !({_SIZE_OK}) || quantity(self.size).isGreaterThan(quantity('0'))",
     "a volume's size must be positive", ".size"),
    (f"!has(self.size) || !({_SIZE_OK}) || "
     f"quantity(self.size).isLessThan(quantity('{QUANTITY_LIMIT}'))",
     f"a volume's size must be less than {QUANTITY_LIMIT}", ".size"),
    ("!has(self.claimName) || !(has(self.size) || has(self.storageClassName) || "
     "has(self.accessMode))", SHARED_CLAIM_MESSAGE, ".claimName"),
    # Transition rules: a claim the App owns keeps its access mode and class. Moving a volume
    # to a shared claim, or back, is a new claim: the old one is kept or deleted as the
    # volumeDeletionPolicy says.
    (f"has(self.claimName) || has(oldSelf.claimName) || {_CEL_MODE} == {_CEL_OLD_MODE}",
     "accessMode of an existing volume cannot change; add a volume under a new name instead",
     ".accessMode"),
    ("has(self.claimName) || has(oldSelf.claimName) || "
     "(has(self.storageClassName) ? self.storageClassName : '') == "
     "(has(oldSelf.storageClassName) ? oldSelf.storageClassName : '')",
     "storageClassName of an existing volume cannot change; add a volume under a new name instead",
     ".storageClassName"),
)):
    """Persistent storage, like `docker run -v name:/path` or Dockerfile `VOLUME`: a
    PersistentVolumeClaim named `<app>-<name>` mounted at mountPath, or, with claimName, an
    existing claim that several Apps share (a compose volume used by several services)."""

    name: Annotated[str, Field(max_length=63, pattern=DNS_LABEL_PATTERN)]
    """Volume name (lowercase letters, digits, '-'), part of the claim's name."""
    mount_path: AbsolutePath
    """Absolute path inside the container, the right side of `-v data:/var/lib/data`."""
    claim_name: DnsSubdomain | None = None
    """Mount this existing PersistentVolumeClaim of the App's namespace instead of a claim of
    the App's own: the way several Apps share data (compose's named volume used by several
    services). The App does not own it: the operator never creates, resizes, changes or
    deletes it, whatever volumeDeletionPolicy says, and deleting every App that mounts it
    leaves it. Its size, class and access mode are the claim's own (size, storageClassName
    and accessMode may not be given). status.volumes says whether it exists and is bound;
    while it does not exist the App is not Ready (reason ClaimMissing). The App's author
    must be allowed to `get` it (the admission policy checks)."""
    size: Annotated[str, Field(max_length=QUANTITY_MAX_LENGTH,
                               pattern=QUANTITY_PATTERN)] | None = None
    """Requested capacity, e.g. `10Gi` (default 1Gi). It may grow later (the claim is
    expanded in place when its StorageClass allows it) but never shrink below what its claim
    has: a growth the cluster refused is undone by setting the size back."""
    storage_class_name: DnsSubdomain | None = None
    """StorageClass of the claim; the cluster's default class when omitted."""
    access_mode: AccessMode | None = None
    """ReadWriteOnce (default; one node, so at most one replica), ReadWriteOncePod,
    ReadWriteMany or ReadOnlyMany (shared; the StorageClass must support it)."""
    read_only: bool = False
    """Mount read-only, like `-v data:/path:ro`."""

    @model_validator(mode="after")
    def _positive_size(self) -> Volume:
        if self.claim_name is not None:
            given = [field for field, value in (
                ("size", self.size), ("storageClassName", self.storage_class_name),
                ("accessMode", self.access_mode)) if value is not None]
            if given:
                raise ValueError(f"volume {self.name}: {', '.join(given)} given with claimName "
                                 f"{self.claim_name}: {SHARED_CLAIM_MESSAGE}")
            return self
        if parse_quantity(self.storage_size) <= 0:
            raise ValueError(f"volume {self.name}: size must be positive, not {self.size}")
        _check_quantity(self.storage_size)
        return self

    @property
    def shared(self) -> bool:
        """Whether the volume mounts a claim the App does not own (claimName)."""
        return self.claim_name is not None

    @property
    def storage_size(self) -> str:
        """The size the App's own claim requests (its default when none is given)."""
        return self.size or DEFAULT_VOLUME_SIZE

    @property
    def mode(self) -> str | None:
        """The access mode of the App's own claim; None for a shared claim, whose mode is
        the claim's and unknown to the App."""
        return None if self.shared else (self.access_mode or DEFAULT_ACCESS_MODE)


FILES_VOLUME = "app-operator-files"
FILES_CONTENT_MAX = 262144  # inline content of all files of an App, in bytes (UTF-8)


class FileKeyRef(Model):
    name: DnsSubdomain
    """Name of the ConfigMap or Secret, in the App's namespace."""
    key: Annotated[str, Field(min_length=1, max_length=253, pattern=CONFIG_KEY_PATTERN)]
    """Key whose value becomes the file's content."""


class File(Model, json_schema_extra=_cel(
    ("[has(self.content), has(self.configMap), has(self.secret)].filter(x, x).size() == 1",
     "a file needs exactly one of content, configMap or secret"),
)):
    """A file mounted read-only into the container: the Kubernetes form of
    `-v ./nginx.conf:/etc/nginx/nginx.conf:ro` and of compose `configs:` and `secrets:`."""

    mount_path: Annotated[str, Field(max_length=4096, pattern=r"^/[^\x00-\x1F\x7F]*[^/]$")]
    """Absolute path of the file inside the container, e.g. `/etc/nginx/nginx.conf`."""
    content: Annotated[
        str, Field(max_length=FILES_CONTENT_MAX, pattern=TEXT_PATTERN)] | None = None
    """The file's text, written here. The operator keeps it in a ConfigMap `<app>-files`;
    changing it restarts the pods, so they read the new content."""
    config_map: FileKeyRef | None = None
    """Take the content from a key of a ConfigMap."""
    secret: FileKeyRef | None = None
    """Take the content from a key of a Secret (keeps passwords and keys out of the App),
    like compose `secrets:` at `/run/secrets/<name>`."""
    mode: Annotated[int, Field(ge=0, le=0o777)] | None = None
    """Permission bits, e.g. `0440` in YAML (288 in JSON); default `0644`."""

    @model_validator(mode="after")
    def _one_source(self) -> File:
        sources = [s for s in (self.content, self.config_map, self.secret) if s is not None]
        if len(sources) != 1:
            raise ValueError(f"file {self.mount_path}: give exactly one of content, configMap "
                             "or secret")
        return self


def _check_files(files: list[File]) -> list[File]:
    _total_size("files", FILES_CONTENT_MAX, [utf8_size(f.content or "") for f in files])
    return files


class ResourceList(Model, json_schema_extra=_cel(
    _quantity_rule("cpu", ".cpu"), _quantity_rule("memory", ".memory"),
    _quantity_rule("ephemeral-storage", ".ephemeral-storage"),
)):
    cpu: Quantity | None = None
    """CPU cores, e.g. `500m` (half a core) or `2`."""
    memory: Quantity | None = None
    """Memory, e.g. `256Mi` or `1Gi`."""
    ephemeral_storage: Annotated[Quantity | None, Field(alias="ephemeral-storage")] = None
    """Scratch disk space for the container's writable layer and logs."""


class Resources(Model):
    """Compute resources, like `docker run --cpus` and `--memory`."""

    requests: ResourceList | None = None
    """What the scheduler reserves for each replica."""
    limits: ResourceList | None = None
    """The most each replica may use (`--memory` is a limit)."""


class HttpGet(Model):
    path: Annotated[str, Field(max_length=2048, pattern=r"^/[^\x00-\x1F\x7F]*$")] = "/"
    """Path to request; any status from 200 to 399 counts as success."""
    port: PortRef
    """Port number, or the name of one of spec.ports."""
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    """HTTP or HTTPS (the certificate is not verified)."""


class TcpSocket(Model):
    port: PortRef
    """Port number, or the name of one of spec.ports; success when it accepts a connection."""


class ExecAction(Model):
    command: Annotated[
        _argument_list("probe command", 64, 16384), Field(min_length=1)]  # type: ignore[valid-type]
    """Command run inside the container, like `--health-cmd`; exit code 0 is success."""


class Probe(Model, json_schema_extra=_cel(
    ("[has(self.httpGet), has(self.tcpSocket), has(self.exec)].filter(x, x).size() == 1",
     "a probe needs exactly one of httpGet, tcpSocket or exec"),
)):
    """A health check, like Dockerfile `HEALTHCHECK` or `docker run --health-*`."""

    http_get: HttpGet | None = None
    """Succeed when an HTTP GET answers 200-399."""
    tcp_socket: TcpSocket | None = None
    """Succeed when the port accepts a TCP connection."""
    exec: ExecAction | None = None
    """Succeed when a command exits 0."""
    initial_delay_seconds: Int32 | None = None
    """Seconds to wait after start before the first check (`--health-start-period`)."""
    period_seconds: PositiveInt32 | None = None
    """Seconds between checks (`--health-interval`)."""
    timeout_seconds: PositiveInt32 | None = None
    """Seconds before a check counts as failed (`--health-timeout`)."""
    failure_threshold: PositiveInt32 | None = None
    """Failed checks in a row before acting (`--health-retries`)."""
    success_threshold: PositiveInt32 | None = None
    """Successful checks in a row to count as healthy again (readiness only; 1 otherwise)."""

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        handlers = [h for h in (self.http_get, self.tcp_socket, self.exec) if h is not None]
        if len(handlers) != 1:
            raise ValueError("a probe needs exactly one of httpGet, tcpSocket or exec")
        return self

    def named_port(self) -> str | None:
        """The port name this probe refers to, if it names one instead of a number."""
        handler = self.http_get or self.tcp_socket
        if handler is not None and isinstance(handler.port, str) and not handler.port.isdigit():
            return handler.port
        return None


class Probes(Model):
    """Health checks; pods receive traffic only while the readiness check passes."""

    readiness: Probe | None = None
    """Is the app ready for traffic? Failing removes the pod from the Service."""
    liveness: Probe | None = None
    """Is the app alive? Failing restarts the container."""
    startup: Probe | None = None
    """Has the app started? The other checks wait until this one passes once."""


SIDECAR_ENV_TOTAL_MAX = 32768


class VolumeMount(Model):
    """One of the App's volumes, mounted into a sidecar too."""

    name: Annotated[str, Field(max_length=63, pattern=DNS_LABEL_PATTERN)]
    """Name of a volume of spec.volumes."""
    mount_path: AbsolutePath
    """Absolute path inside the sidecar."""
    read_only: bool = False
    """Mount read-only."""


def _check_sidecar_env_total(env: list[EnvVar]) -> list[EnvVar]:
    _total_size("sidecar env", SIDECAR_ENV_TOTAL_MAX, [utf8_size(e.value or "") for e in env])
    return env


class Sidecar(Model):
    """A second container in the App's pods, started before the main one and stopped after
    it (a Kubernetes native sidecar): what compose's `network_mode: service:<app>` means (it
    shares the pods' network, so localhost reaches the main container). It gets the same
    security settings as the main container (securityProfile, user, groups) and never more."""

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]
    """Container name (lowercase letters, digits, '-'); not the App's own name, which the
    main container has."""
    image: Annotated[str, Field(min_length=1, max_length=1024, pattern=IMAGE_PATTERN)]
    """Container image."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """When to pull the image."""
    command: _argument_list("sidecar command", 64, 16384) | None = None  # type: ignore[valid-type]
    """Replaces the image's ENTRYPOINT; at most 64 arguments, 16 KiB in all."""
    args: _argument_list("sidecar args", 64, 16384) | None = None  # type: ignore[valid-type]
    """Replaces the image's CMD; at most 64 arguments, 16 KiB in all."""
    working_dir: AbsolutePath | None = None
    """Replaces the image's WORKDIR."""
    env: Annotated[
        list[EnvVar], Field(max_length=64, json_schema_extra={**_map_list("name"), **_cel(
            (f"self.map(e, has(e.value) ? {cel_bytes('e.value')} : 0).sum() <= "
             f"{SIDECAR_ENV_TOTAL_MAX}",
             f"sidecar env: the values may have at most {SIDECAR_ENV_TOTAL_MAX} bytes in all "
             "(UTF-8)"))}),
        AfterValidator(_check_sidecar_env_total),
    ] | None = None
    """Environment variables; at most 64, their values 32 KiB in all."""
    env_from: Annotated[list[EnvFromSource], Field(max_length=8)] | None = None
    """Variables from whole ConfigMaps or Secrets."""
    volume_mounts: Annotated[
        list[VolumeMount], Field(max_length=32, json_schema_extra=_map_list("mountPath"))
    ] | None = None
    """Volumes of the App (spec.volumes, by name) mounted into the sidecar too."""
    resources: Resources | None = None
    """CPU and memory requests and limits of the sidecar."""


def _probe_port_rules() -> list[tuple[str, str, str]]:
    rules = []
    for kind in ("readiness", "liveness", "startup"):
        for handler in ("httpGet", "tcpSocket"):
            probe = f"self.probes.{kind}"
            port = f"{probe}.{handler}.port"
            rules.append((
                f"!has(self.probes) || !has({probe}) || !has({probe}.{handler}) || "
                f"type({port}) == int || (has(self.ports) && "
                f"self.ports.exists(p, has(p.name) && p.name == {port}))",
                f"probes.{kind}.{handler}.port names no port in spec.ports",
                f".probes.{kind}.{handler}.port",
            ))
    return rules


# The free text of an App (arguments, variables, labels, annotations, inline files) in all,
# in bytes as stored: each field has its own bound, and their sum (over 600 KiB) would let
# one App, with its Deployment, cost the operator megabytes (issue 23). The rest of an App
# is bounded by its structure (counts and lengths) to a few dozen KiB.
APP_TEXT_MAX = 262144


def _cel_map_bytes(field: str) -> str:
    return f"{field}.map(k, {cel_bytes('k')} + {cel_bytes(f'{field}[k]')}).sum()"


_APP_TEXT_BYTES = " + ".join((
    f"(has(self.command) ? self.command.map(a, {cel_bytes('a')}).sum() : 0)",
    f"(has(self.args) ? self.args.map(a, {cel_bytes('a')}).sum() : 0)",
    f"(has(self.env) ? self.env.map(e, has(e.value) ? {cel_bytes('e.value')} : 0).sum() : 0)",
    f"(has(self.podLabels) ? {_cel_map_bytes('self.podLabels')} : 0)",
    f"(has(self.podAnnotations) ? {_cel_map_bytes('self.podAnnotations')} : 0)",
    "(has(self.service) && has(self.service.annotations) ? "
    f"{_cel_map_bytes('self.service.annotations')} : 0)",
    f"(has(self.files) ? self.files.map(f, has(f.content) ? {cel_bytes('f.content')} : 0)"
    ".sum() : 0)"))
APP_TEXT_MESSAGE = (f"an App may hold at most {APP_TEXT_MAX} bytes (256 KiB, UTF-8) of command, "
                    "args, env values, pod labels, annotations and inline files in all")
# The sidecars' free text has a bound of its own (one CEL rule for all would exceed the API
# server's cost budget): with APP_TEXT_MAX, an App holds at most 320 KiB of it.
SIDECARS_TEXT_MAX = 65536
_SIDECAR_TEXT_BYTES = (
    f"(has(s.command) ? s.command.map(a, {cel_bytes('a')}).sum() : 0) + "
    f"(has(s.args) ? s.args.map(a, {cel_bytes('a')}).sum() : 0) + "
    f"(has(s.env) ? s.env.map(e, has(e.value) ? {cel_bytes('e.value')} : 0).sum() : 0)")


def _check_sidecars_text(sidecars: list[Sidecar]) -> list[Sidecar]:
    _total_size("sidecars (command, args and env values)", SIDECARS_TEXT_MAX,
                [utf8_size(a) for c in sidecars for a in [*(c.command or []), *(c.args or [])]]
                + [utf8_size(e.value or "") for c in sidecars for e in c.env or []])
    return sidecars

APP_SPEC_RULES: tuple[tuple[str, str] | tuple[str, str, str], ...] = (
    (f"{_APP_TEXT_BYTES} <= {APP_TEXT_MAX}", APP_TEXT_MESSAGE),
    ("!has(self.ports) || self.ports.all(p, !has(p.name) || self.ports.exists_one(q, "
     "has(q.name) && q.name == p.name))",
     "two ports have the same name", ".ports"),
    ("!has(self.ports) || self.ports.all(p, self.ports.exists_one(q, "
     "(has(q.servicePort) ? q.servicePort : q.containerPort) == "
     "(has(p.servicePort) ? p.servicePort : p.containerPort) && q.protocol == p.protocol))",
     "two ports use the same servicePort and protocol", ".ports"),
    ("!has(self.volumes) || self.volumes.all(v, self.volumes.exists_one(w, "
     "w.mountPath == v.mountPath))",
     "two volumes use the same mountPath", ".volumes"),
    ("!has(self.ports) || !self.ports.exists(p, has(p.nodePort)) || (has(self.service) && "
     "self.service.type in ['NodePort', 'LoadBalancer'])",
     "nodePort needs service.type NodePort or LoadBalancer", ".ports"),
    ("!has(self.volumes) || self.replicas <= 1 || !self.volumes.exists(v, !has(v.claimName) "
     "&& (!has(v.accessMode) || v.accessMode in ['ReadWriteOnce', 'ReadWriteOncePod']))",
     "replicas > 1 needs every volume to be ReadWriteMany or ReadOnlyMany: a ReadWriteOnce "
     "volume can be used by one replica only", ".replicas"),
    ("!has(self.podLabels) || !self.podLabels.exists(k, k in "
     "['app.kubernetes.io/name', 'app.kubernetes.io/instance'])",
     "podLabels may not set app.kubernetes.io/name or app.kubernetes.io/instance: the "
     "operator selects the App's pods by them", ".podLabels"),
    ("!has(self.files) || !has(self.volumes) || !self.files.exists(f, "
     "self.volumes.exists(v, v.mountPath == f.mountPath))",
     "a file's mountPath is a volume's mountPath; a path holds one or the other", ".files"),
    (f"!has(self.volumes) || !self.volumes.exists(v, v.name == '{FILES_VOLUME}')",
     f"the volume name {FILES_VOLUME} is reserved for spec.files", ".volumes"),
    ("self.restartPolicy == 'Always' || self.replicas <= 1",
     "a run-once App (restartPolicy OnFailure or Never) runs one pod: replicas may be 0 or 1",
     ".replicas"),
    ("!has(self.sidecars) || self.sidecars.all(s, !has(s.volumeMounts) || "
     "s.volumeMounts.all(m, has(self.volumes) && self.volumes.exists(v, v.name == m.name)))",
     "a sidecar's volumeMounts name volumes of spec.volumes", ".sidecars"),
    ("self.securityProfile != 'restricted' || !has(self.runAsUser) || self.runAsUser != 0",
     "securityProfile restricted runs as non-root: runAsUser cannot be 0", ".runAsUser"),
    ("!has(self.route) || (has(self.ports) && size(self.ports) > 0)",
     "route needs spec.ports: it sends traffic to the App's Service", ".route"),
    ("!has(self.route) || has(self.route.port) || !has(self.ports) || size(self.ports) == 0 "
     "|| self.ports.exists(p, p.protocol == 'TCP' && (has(p.appProtocol) ? "
     "(p.appProtocol.lowerAscii() in ['http', 'http2', 'https'] || p.appProtocol in "
     f"{sorted(KUBERNETES_APP_PROTOCOLS)}) : has(p.name) ? (p.name in ['web', 'www'] || "
     "p.name.matches('^(http|http2|https)(-.*)?$')) : p.containerPort in "
     f"{sorted(WEB_PORTS)}))",
     "route: no TCP port of spec.ports serves HTTP or HTTPS by its appProtocol or name; "
     "name the port in route.port", ".route"),
    ("!has(self.route) || !has(self.route.port) || (type(self.route.port) == int ? "
     "self.ports.exists(p, p.containerPort == self.route.port && p.protocol == 'TCP') : "
     "self.ports.exists(p, has(p.name) && p.name == self.route.port))",
     "route.port names no TCP port of spec.ports (give a port's name or containerPort)",
     ".route.port"),
    *_probe_port_rules(),
)


class Dependency(Model):
    """Another App of the namespace that this App waits for before it starts, like compose's
    `depends_on` with `condition: service_healthy`."""

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]
    """Name of the App, in this App's namespace."""
    condition: Literal["Ready", "Completed"] = "Ready"
    """Ready: the App is Ready for its current spec (and neither suspended nor scaled to 0).
    Completed: the App is run-once work (restartPolicy OnFailure or Never) whose pod ran to
    success for its current spec, like compose's `service_completed_successfully`."""


class AppSpec(Model, json_schema_extra=_cel(*APP_SPEC_RULES)):
    """What to run: the `docker run` line (and Dockerfile settings) of one container image."""

    image: Annotated[str, Field(min_length=1, max_length=1024, pattern=IMAGE_PATTERN)]
    """Container image, e.g. `nextcloud:29` or `registry.example.com/team/app:v1`."""
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """When to pull the image (Kubernetes' default: Always for `:latest`, else IfNotPresent)."""
    image_pull_secrets: Annotated[list[DnsSubdomain], Field(
        max_length=16, json_schema_extra={"x-kubernetes-list-type": "set"})] | None = None
    """Names of Secrets holding registry credentials, like `docker login`."""
    replicas: Annotated[int, Field(ge=0, le=10000)] = 1
    """How many copies run. `kubectl scale app/<name>` and autoscalers change it."""
    suspend: bool = False
    """Scale to zero and keep everything else (Service, volumes, data), like `docker stop`.
    A run-once App's Job is suspended (its pod stopped) until this is false again."""
    restart_policy: Literal["Always", "OnFailure", "Never"] = "Always"
    """Always (default): a service that runs for good, kept by a Deployment. OnFailure or
    Never: run-once work (a migration, a backup; compose's `restart: "no"` or `on-failure`)
    kept by a Job `<app>` that runs one pod to completion: OnFailure restarts a failed
    container (up to 6 times), Never runs it once. status says Completed or Failed; a change
    of the App's pod (image, command, env...) runs it again. replicas is then 0 or 1 and
    strategy is not used."""
    command: _argument_list("command", 256, 65536) | None = None  # type: ignore[valid-type]
    """Replaces the image's ENTRYPOINT (`docker run --entrypoint`); at most 256 arguments,
    64 KiB in all."""
    args: _argument_list("args", 256, 65536) | None = None  # type: ignore[valid-type]
    """Replaces the image's CMD: what follows the image in `docker run IMAGE arg...`; at most
    256 arguments, 64 KiB in all."""
    working_dir: AbsolutePath | None = None
    """Replaces the image's WORKDIR (`docker run -w`)."""
    env: Annotated[
        list[EnvVar], Field(max_length=256, json_schema_extra={**_map_list("name"), **_cel(
            (f"self.map(e, has(e.value) ? {cel_bytes('e.value')} : 0).sum() <= {ENV_TOTAL_MAX}",
             f"env: the values may have at most {ENV_TOTAL_MAX} bytes in all (UTF-8)"))}),
        AfterValidator(_check_env_total),
    ] | None = None
    """Environment variables (`docker run -e`, Dockerfile ENV); at most 256, their values
    128 KiB in all."""
    env_from: Annotated[list[EnvFromSource], Field(max_length=32)] | None = None
    """Variables from whole ConfigMaps or Secrets (`docker run --env-file`)."""
    ports: Annotated[
        list[Port], Field(max_length=64, json_schema_extra=_map_list("containerPort",
                                                                     "protocol"))
    ] | None = None
    """Ports to publish (`-p`, EXPOSE), one per containerPort and protocol. With none, the
    App gets no Service."""
    service: ServiceSpec | None = None
    """How the ports are published: type and annotations of the Service."""
    volumes: Annotated[
        list[Volume], Field(max_length=32, json_schema_extra=_map_list("name"))
    ] | None = None
    """Persistent volumes (`-v name:/path`, VOLUME): one PersistentVolumeClaim each, the
    App's own (`<app>-<name>`), or an existing claim it shares with other Apps (claimName)."""
    files: Annotated[
        list[File], Field(max_length=32, json_schema_extra={**_map_list("mountPath"), **_cel(
            (f"self.map(f, has(f.content) ? {cel_bytes('f.content')} : 0).sum() <= "
             f"{FILES_CONTENT_MAX}",
             f"files: the inline content may have at most {FILES_CONTENT_MAX} bytes "
             "in all (UTF-8)"))}),
        AfterValidator(_check_files),
    ] | None = None
    """Files mounted read-only into the container (`-v ./app.conf:/etc/app.conf:ro`,
    compose configs and secrets): inline text, or a key of a ConfigMap or Secret. At most
    32, their inline content 256 KiB in all."""
    volume_deletion_policy: Literal["Retain", "Delete"] = "Retain"
    """Retain (default): a claim and its data outlive the App and the volume's removal from
    the spec. Delete: a claim is deleted with its volume entry or with the App."""
    resources: Resources | None = None
    """CPU and memory requests and limits (`--cpus`, `--memory`)."""
    probes: Probes | None = None
    """Health checks (HEALTHCHECK, `--health-cmd`)."""
    pod_labels: _string_map(  # type: ignore[valid-type]
        "podLabels", max_items=32, value_max=63, total_max=16384,
        value_pattern=LABEL_VALUE_PATTERN) | None = None
    """Extra labels on the pods (`docker run --label`); at most 32."""
    pod_annotations: _string_map(  # type: ignore[valid-type]
        "podAnnotations", max_items=64, value_max=8192, total_max=65536,
        pod_annotations=True) | None = None
    """Extra annotations on the pods; at most 64, 64 KiB in all. Annotations that change the
    pod's security (AppArmor, seccomp, container runtime options) are refused: use
    securityProfile. So are those of CNI plugins (networks, addresses), service meshes
    (sidecar injection, traffic interception) and cloud or secrets identity (IAM roles,
    workload identity, Vault), which only the cluster's administrators may set."""
    strategy: Literal["Auto", "RollingUpdate", "Recreate"] = "Auto"
    """How a new version replaces the old. Auto: Recreate (stop, then start) when a
    ReadWriteOnce volume or a shared claim (claimName, whose access mode the App does not
    know) is mounted, since two pods may not be able to share it; RollingUpdate otherwise."""
    security_profile: Literal["baseline", "restricted"] = "baseline"
    """baseline: no privilege escalation, the runtime's default seccomp profile.
    restricted: also never root and all Linux capabilities dropped (Pod Security
    "restricted"); the image must run as a non-root user."""
    run_as_user: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    """User ID the process runs as (`docker run -u`)."""
    run_as_group: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    """Primary group ID of the process (`docker run -u uid:gid`)."""
    fs_group: Annotated[int, Field(ge=0, le=2147483647)] | None = None
    """Group that owns the mounted volumes, so a non-root process can write to them."""
    sidecars: Annotated[
        list[Sidecar], Field(max_length=4, json_schema_extra={**_map_list("name"), **_cel(
            (f"self.map(s, {_SIDECAR_TEXT_BYTES}).sum() <= {SIDECARS_TEXT_MAX}",
             f"sidecars: their command, args and env values may have at most "
             f"{SIDECARS_TEXT_MAX} bytes in all (UTF-8)"))}),
        AfterValidator(_check_sidecars_text),
    ] | None = None
    """Containers beside the main one in each pod, started before it and stopped after it
    (native sidecars), with the same security settings (compose's `network_mode:
    service:<app>`); at most 4, their command, args and env values 64 KiB in all."""
    depends_on: Annotated[
        list[Dependency], Field(max_length=32, json_schema_extra=_map_list("name"))
    ] | None = None
    """Apps of the namespace that must meet their condition before this one starts (compose's
    `depends_on`): until each does, the Deployment is kept at 0 replicas and the App is not
    Ready (reason WaitingForDependency, naming each App and what it waits for). Only the
    start waits: an App whose pods run already is not stopped when a dependency later stops
    being Ready. Apps that depend on each other in a cycle never start: each is Stalled
    (reason DependencyCycle, naming the cycle)."""
    route: Route | None = None
    """Reach the App from outside the cluster by host name, like a reverse proxy's
    `Host(...)` rule: the operator makes an HTTPRoute (parent.gateway) or an Ingress
    (parent.ingressClassName, or no parent) named like the App, in front of its Service.
    status.url shows the external address once the route carries traffic."""

    def text_size(self) -> int:
        """The bytes of free text the App holds, as APP_SPEC_RULES' first rule counts them."""
        maps = [self.pod_labels or {}, self.pod_annotations or {},
                (self.service.annotations if self.service else None) or {}]
        return (sum(utf8_size(a) for a in [*(self.command or []), *(self.args or [])])
                + sum(utf8_size(e.value or "") for e in self.env or [])
                + sum(utf8_size(k) + utf8_size(v) for m in maps for k, v in m.items())
                + sum(utf8_size(f.content or "") for f in self.files or []))

    @model_validator(mode="after")
    def _cross_field_rules(self) -> AppSpec:
        """The Python twins of APP_SPEC_RULES, for use without an API server."""
        problems = []
        ports = self.ports or []
        volumes = self.volumes or []
        files = self.files or []
        for field, items, key in (
            ("env", self.env or [], "name"), ("ports", ports, "name"),
            ("volumes", volumes, "name"), ("volumes", volumes, "mount_path"),
            ("files", files, "mount_path"),
            ("sidecars", self.sidecars or [], "name"),
        ):
            seen: set[str] = set()
            for item in items:
                value = getattr(item, key)
                if value is None:
                    continue
                if value in seen:
                    problems.append(f"{field}: {to_camel(key)} {value!r} is used twice")
                seen.add(value)
        for label, numbers in (
            ("containerPort", [(p.container_port, p.protocol) for p in ports]),
            ("servicePort", [(p.service_port or p.container_port, p.protocol) for p in ports]),
        ):
            if len(set(numbers)) != len(numbers):
                problems.append(f"ports: two ports use the same {label} and protocol")
        service_type = self.service.type if self.service else "ClusterIP"
        if any(p.node_port for p in ports) and service_type == "ClusterIP":
            problems.append("ports: nodePort needs service.type NodePort or LoadBalancer")
        if self.replicas > 1 and any(v.mode in SINGLE_NODE_ACCESS_MODES for v in volumes):
            problems.append(
                "replicas: replicas > 1 needs every volume to be ReadWriteMany or ReadOnlyMany"
            )
        if self.pod_labels and set(self.pod_labels) & set(SELECTOR_LABELS):
            problems.append("podLabels: may not set the selector labels " + ", ".join(
                SELECTOR_LABELS))
        secrets = self.image_pull_secrets or []
        if len(set(secrets)) < len(secrets):
            problems.append("imagePullSecrets: a Secret is named twice")
        on_volumes = sorted({f.mount_path for f in files} & {v.mount_path for v in volumes})
        if on_volumes:
            problems.append(f"files: {', '.join(on_volumes)} is a volume's mountPath too")
        if any(v.name == FILES_VOLUME for v in volumes):
            problems.append(f"volumes: the name {FILES_VOLUME} is reserved for spec.files")
        volume_names = {v.name for v in volumes}
        for sidecar in self.sidecars or []:
            unknown = sorted({m.name for m in sidecar.volume_mounts or []} - volume_names)
            if unknown:
                problems.append(f"sidecars: {sidecar.name} mounts {', '.join(unknown)}, which "
                                "is no volume of spec.volumes")
        if self.restart_policy != "Always" and self.replicas > 1:
            problems.append("replicas: a run-once App (restartPolicy OnFailure or Never) "
                            "runs one pod: replicas may be 0 or 1")
        if self.security_profile == "restricted" and self.run_as_user == 0:
            problems.append("runAsUser: securityProfile restricted cannot run as user 0")
        text = self.text_size()
        if text > APP_TEXT_MAX:
            problems.append(f"{APP_TEXT_MESSAGE}; this one holds {text}")
        port_names = {p.name for p in ports if p.name is not None}
        for kind, probe in self.probe_items():
            name = probe.named_port()
            if name is not None and name not in port_names:
                problems.append(f"probes.{kind}: port {name!r} names no port in spec.ports")
        if self.route is not None:
            problems.extend(self._route_problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _route_problems(self) -> list[str]:
        if not self.ports:
            return ["route needs spec.ports: it sends traffic to the App's Service"]
        if self.route is not None and self.route.port is None and self.route_port() is None:
            return ["route: no TCP port of spec.ports serves HTTP or HTTPS by its appProtocol "
                    "or name; name the port in route.port"]
        if self.route_port() is None:
            return [f"route.port {self.route.port if self.route else None!r} names no TCP "
                    "port of spec.ports (give a port's name or containerPort)"]
        return []

    def route_port(self) -> tuple[Port, str] | None:
        """The port the route sends traffic to, with its name (given or derived): the one
        route.port names, else the first port that serves the web; None when there is
        none."""
        if self.route is None:
            return None
        wanted = self.route.port
        for port, name in zip(self.ports or [], self.port_names(), strict=True):
            if port.protocol != "TCP":
                continue
            # Judged by the port's own or derived name (not the one made unique among the
            # ports), as the CRD's rule judges it.
            if wanted is None and web_scheme(port.app_protocol,
                                             port.name or port.derived_name()) is not None:
                return port, name
            if isinstance(wanted, int) and port.container_port == wanted:
                return port, name
            if isinstance(wanted, str) and port.name == wanted:
                return port, name
        return None

    def port_names(self) -> list[str]:
        """Each port's name, given or derived, in the order of spec.ports. A derived name
        that another port has already gets the port number (`http-8000`: still `http` to a
        service mesh), else becomes `<protocol>-<port>`, which gets a count if need be
        (`tcp-80-2`)."""
        ports = self.ports or []
        taken = {p.name for p in ports if p.name}
        names = []
        for port in ports:
            name = port.name
            if name is None:
                plain = f"{port.protocol.lower()}-{port.container_port}"
                base = port.derived_name()
                tries = [base, f"{base}-{port.container_port}", plain] if base != plain else [
                    plain]
                name = next((n for n in tries if n not in taken and is_port_name(n)), None)
                number = 1
                while name is None or name in taken:
                    number += 1
                    name = f"{plain}-{number}"
                taken.add(name)
            names.append(name)
        return names

    def probe_items(self) -> list[tuple[str, Probe]]:
        if self.probes is None:
            return []
        items = [("readiness", self.probes.readiness), ("liveness", self.probes.liveness),
                 ("startup", self.probes.startup)]
        return [(kind, probe) for kind, probe in items if probe is not None]

    @property
    def run_once(self) -> bool:
        """Whether the App is run-once work, kept by a Job rather than a Deployment."""
        return self.restart_policy != "Always"

    @property
    def effective_replicas(self) -> int:
        return 0 if self.suspend else self.replicas


class Condition(Model):
    """A Kubernetes-style condition (kstatus compatible)."""

    type: str
    """Ready, Reconciling or Stalled; Completed for run-once Apps."""
    status: Literal["True", "False", "Unknown"]
    """True, False or Unknown."""
    reason: str
    """CamelCase reason, for machines."""
    message: str
    """What happened, for people."""
    last_transition_time: str
    """When status last changed."""
    observed_generation: int | None = None
    """The App generation this condition describes."""


class VolumeStatus(Model):
    name: str
    """Volume name from the spec."""
    claim_name: str
    """PersistentVolumeClaim holding the data."""
    phase: str
    """Pending, Bound or Lost; Missing when the claim does not exist yet."""
    capacity: str | None = None
    """Capacity the storage system reports."""
    shared: bool | None = None
    """True for a claim the App mounts but does not own (claimName): never changed or
    deleted by the operator."""


class AppStatus(Model):
    """What really runs, as the operator last observed it."""

    observed_generation: int | None = None
    """The App generation last reconciled."""
    conditions: list[Condition] | None = None
    """Ready, Reconciling and Stalled (`kubectl wait --for=condition=Ready app/<name>`);
    run-once Apps also Completed."""
    replicas: int | None = None
    """Pods that exist."""
    ready_replicas: int | None = None
    """Pods that pass their readiness check."""
    updated_replicas: int | None = None
    """Pods that run the current spec."""
    available_replicas: int | None = None
    """Pods that have been ready long enough to serve."""
    selector: str | None = None
    """Label selector of the App's pods (used by `kubectl scale` and autoscalers)."""
    url: str | None = None
    """The App's address. With a route that carries traffic (its HTTPRoute accepted by the
    Gateway, or its Ingress given an address): the external one, `https://<first
    host><first path>` (`http://` without route.tls). Otherwise the in-cluster address of
    the first port that serves HTTP or HTTPS (by its appProtocol or name), e.g.
    `http://<app>.<namespace>.svc:8080`; none when no port does."""
    node_port: int | None = None
    """Node port of the first port, when the Service has one."""
    volumes: list[VolumeStatus] | None = None
    """Claims of the volumes in the spec."""
    retained_claims: list[str] | None = None
    """Claims kept after their volume left the spec (volumeDeletionPolicy Retain); delete them
    by hand when the data is no longer needed."""
