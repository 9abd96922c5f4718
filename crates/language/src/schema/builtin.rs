//! The built-in resource kinds.

use super::{Arg, Field, KindSchema, Prop, Schema, Shape, Type, field, prop};
use crate::model::Condition;

/// The schema of every built-in kind.
pub fn builtin() -> Schema {
    Schema::new(vec![&NETWORK, &VOLUME, &IMAGE, &SECRET, &SERVICE, &JOB, &PROBE])
}

/// The fields of a `registry` block (not a resource: the credentials pulls and pushes use).
pub static REGISTRY_FIELDS: &[Field] = &[
    field!(
        "username",
        Shape::Scalar(Type::String),
        InPlace,
        required,
        "The user name to log in with"
    ),
    field!(
        "password",
        Shape::Scalar(Type::String),
        InPlace,
        required,
        "The password, from a sensitive variable"
    ),
];

const LABELS: Field = field!(
    "labels",
    Shape::Map(Type::String),
    Replace,
    "Labels on the object"
);

pub static NETWORK: KindSchema = KindSchema {
    name: "network",
    doc: "A network containers join. Docker cannot change a network in place, so every change replaces it.",
    on_replace: "replace",
    interpolates: true,
    ready: Condition::Exists,
    fields: &[
        field!(
            "driver",
            Shape::Scalar(Type::String),
            Replace,
            default = "bridge",
            "Network driver"
        ),
        field!(
            "subnet",
            Shape::Scalar(Type::Cidr),
            Replace,
            "Address range of the network"
        ),
        field!(
            "gateway",
            Shape::Scalar(Type::Ip),
            Replace,
            "Gateway address, inside the subnet"
        ),
        field!(
            "ip-range",
            Shape::Scalar(Type::Cidr),
            Replace,
            "Range, inside the subnet, that addresses are allocated from"
        ),
        field!(
            "internal",
            Shape::Scalar(Type::Bool),
            Replace,
            default = "#false",
            "No route to the outside world"
        ),
        field!(
            "attachable",
            Shape::Scalar(Type::Bool),
            Replace,
            default = "#false",
            "Containers outside the stack may join"
        ),
        field!(
            "encrypted",
            Shape::Scalar(Type::Bool),
            Replace,
            "Encrypt the traffic between the nodes of a swarm (overlay networks only)"
        ),
        LABELS,
        field!(
            "external",
            Shape::Scalar(Type::String),
            Replace,
            "Name of an existing network, created outside this stack: it is only read, never changed"
        ),
    ],
};

pub static VOLUME: KindSchema = KindSchema {
    name: "volume",
    doc: "A named volume. Its data outlives every container that mounts it; it is removed only when asked.",
    on_replace: "replace",
    interpolates: true,
    ready: Condition::Exists,
    fields: &[
        field!(
            "driver",
            Shape::Scalar(Type::String),
            Replace,
            default = "local",
            "Volume driver"
        ),
        field!(
            "driver-opts",
            Shape::Map(Type::String),
            Replace,
            "Options for the driver"
        ),
        LABELS,
        field!(
            "external",
            Shape::Scalar(Type::String),
            Replace,
            "Name of an existing volume, created outside this stack"
        ),
    ],
};

pub static IMAGE: KindSchema = KindSchema {
    name: "image",
    doc: "An image built locally from a build context. Any change of its inputs builds it again.",
    on_replace: "rebuild",
    interpolates: true,
    ready: Condition::Exists,
    fields: &[
        field!(
            "context",
            Shape::Scalar(Type::Path),
            Replace,
            required,
            "Build context directory, relative to the file"
        ),
        field!(
            "dockerfile",
            Shape::Scalar(Type::String),
            Replace,
            default = "Dockerfile",
            "Dockerfile, relative to the context"
        ),
        field!(
            "target",
            Shape::Scalar(Type::String),
            Replace,
            "Build stage to stop at"
        ),
        field!("args", Shape::Map(Type::String), Replace, "Build arguments"),
        field!(
            "tags",
            Shape::List(Type::String),
            InPlace,
            "Extra tags for the built image (Docker retags without a build)"
        ),
        field!(
            "push",
            Shape::Scalar(Type::String),
            InPlace,
            "A registry repository the built image is pushed to; `${image.NAME}` is then the pushed reference with its digest"
        ),
        LABELS,
    ],
};

pub static SECRET: KindSchema = KindSchema {
    name: "secret",
    doc: "A secret value, read when the stack is planned, delivered to services as a file under /run/secrets. \
          Exactly one source; never a literal in the file. A change of its content rolls the services that use it.",
    on_replace: "rolls users",
    interpolates: false,
    ready: Condition::Exists,
    fields: &[
        field!(
            "from-env",
            Shape::Scalar(Type::String),
            Replace,
            "Environment variable holding the value"
        ),
        field!(
            "from-file",
            Shape::Scalar(Type::Path),
            Replace,
            "File holding the value, outside the stack's directory"
        ),
        field!(
            "from-command",
            Shape::List(Type::String),
            Replace,
            "Program and arguments whose output is the value"
        ),
    ],
};

const PROBE_FIELDS: &[Field] = &[
    field!(
        "http",
        Shape::Scalar(Type::String),
        InPlace,
        "URL that must answer with a 2xx status"
    ),
    field!(
        "tcp",
        Shape::Scalar(Type::String),
        InPlace,
        "`host:port` that must accept a connection"
    ),
    field!(
        "exec",
        Shape::List(Type::String),
        InPlace,
        "Command that must exit with 0"
    ),
    field!(
        "interval",
        Shape::Scalar(Type::Duration),
        InPlace,
        default = "5s",
        "Time between checks"
    ),
    field!(
        "timeout",
        Shape::Scalar(Type::Duration),
        InPlace,
        default = "3s",
        "Time a check may take"
    ),
    field!(
        "retries",
        Shape::Scalar(Type::Int),
        InPlace,
        default = "3",
        "Failed checks in a row before unhealthy"
    ),
    field!(
        "start-period",
        Shape::Scalar(Type::Duration),
        InPlace,
        default = "0s",
        "Grace time after start when failures do not count"
    ),
];

pub static PROBE: KindSchema = KindSchema {
    name: "probe",
    doc: "A standalone health check of an endpoint; resources that depend on it wait until it passes.",
    on_replace: "replace",
    interpolates: false,
    ready: Condition::Exists,
    fields: PROBE_FIELDS,
};

const SERVICE_PROBE: &[Field] = &[
    field!(
        "http",
        Shape::Scalar(Type::String),
        Replace,
        "URL, seen from inside the container, that must answer with a 2xx status"
    ),
    field!(
        "tcp",
        Shape::Scalar(Type::String),
        Replace,
        "`host:port`, seen from inside the container, that must accept a connection"
    ),
    field!(
        "exec",
        Shape::List(Type::String),
        Replace,
        "Command run in the container that must exit with 0"
    ),
    field!(
        "interval",
        Shape::Scalar(Type::Duration),
        Replace,
        default = "5s",
        "Time between checks"
    ),
    field!(
        "timeout",
        Shape::Scalar(Type::Duration),
        Replace,
        default = "3s",
        "Time a check may take"
    ),
    field!(
        "retries",
        Shape::Scalar(Type::Int),
        Replace,
        default = "3",
        "Failed checks in a row before unhealthy"
    ),
    field!(
        "start-period",
        Shape::Scalar(Type::Duration),
        Replace,
        default = "0s",
        "Grace time after start when failures do not count"
    ),
];

const MOUNT_TARGET: Prop = Prop {
    name: "target",
    ty: Type::String,
    required: true,
    default: None,
    doc: "Path inside the container",
};
const READ_ONLY: Prop = prop!("read-only", Type::Bool, default = "#false", "Mount read-only");

// The container fields services and jobs share.

const IMAGE_TO_RUN: Field = field!(
    "image",
    Shape::Scalar(Type::Image),
    Replace,
    required,
    "Image to run: a reference like \"redis:7-alpine\" or \"${image.api}\""
);
const COMMAND: Field = field!(
    "command",
    Shape::List(Type::String),
    Replace,
    "Arguments to the entrypoint"
);
const ENTRYPOINT: Field = field!(
    "entrypoint",
    Shape::List(Type::String),
    Replace,
    "Program to run, overriding the image's"
);
const ENV: Field = field!("env", Shape::Map(Type::String), Replace, "Environment variables");
const VOLUME_MOUNT: Field = field!(
    "volume",
    Shape::Record {
        arg: Some(Arg {
            name: "source",
            ty: Type::Ref("volume")
        }),
        props: &[MOUNT_TARGET, READ_ONLY],
        children: &[],
    },
    Replace,
    many,
    "A named volume mounted into the container; repeatable"
);
const BIND: Field = field!(
    "bind",
    Shape::Record {
        arg: Some(Arg {
            name: "source",
            ty: Type::Path
        }),
        props: &[MOUNT_TARGET, READ_ONLY],
        children: &[],
    },
    Replace,
    many,
    "A host path mounted into the container; repeatable"
);
const TMPFS: Field = field!(
    "tmpfs",
    Shape::Record {
        arg: Some(Arg {
            name: "target",
            ty: Type::String
        }),
        props: &[
            prop!("size", Type::Size, "Size limit"),
            prop!("mode", Type::Mode, "File mode of the mount point"),
        ],
        children: &[],
    },
    Replace,
    many,
    "A memory-backed mount; repeatable"
);
const SECRET_FILE: Field = field!(
    "secret",
    Shape::Record {
        arg: Some(Arg {
            name: "name",
            ty: Type::Ref("secret")
        }),
        props: &[
            prop!(
                "target",
                Type::String,
                "File name under /run/secrets; defaults to the secret's name"
            ),
            prop!(
                "mode",
                Type::Mode,
                default = "0o444",
                "File mode (readable by the non-root users many images switch to)"
            ),
            prop!("uid", Type::Int, default = "0", "Owner of the file"),
            prop!("gid", Type::Int, default = "0", "Group of the file"),
        ],
        children: &[],
    },
    Replace,
    many,
    "A secret delivered as a file under /run/secrets; repeatable"
);
const USER: Field = field!(
    "user",
    Shape::Scalar(Type::String),
    Replace,
    "User (and group) the process runs as, like \"1000:1000\""
);
const WORKDIR: Field = field!(
    "workdir",
    Shape::Scalar(Type::String),
    Replace,
    "Working directory"
);
const HOSTNAME: Field = field!(
    "hostname",
    Shape::Scalar(Type::String),
    Replace,
    "Host name inside the container"
);
const INIT: Field = field!(
    "init",
    Shape::Scalar(Type::Bool),
    Replace,
    default = "#false",
    "Run an init process that forwards signals and reaps children"
);
const READ_ONLY_ROOT: Field = field!(
    "read-only",
    Shape::Scalar(Type::Bool),
    Replace,
    default = "#false",
    "Read-only root file system"
);
const CAP_ADD: Field = field!(
    "cap-add",
    Shape::List(Type::String),
    Replace,
    "Linux capabilities to add"
);
const CAP_DROP: Field = field!(
    "cap-drop",
    Shape::List(Type::String),
    Replace,
    "Linux capabilities to drop"
);
const STOP_SIGNAL: Field = field!(
    "stop-signal",
    Shape::Scalar(Type::String),
    Replace,
    "Signal that asks the process to stop; by default the image's STOPSIGNAL, else SIGTERM"
);
const STOP_GRACE_PERIOD: Field = field!(
    "stop-grace-period",
    Shape::Scalar(Type::Duration),
    Replace,
    default = "10s",
    "Time between the stop signal and SIGKILL"
);

/// `network`: a service changes its networks in place, a job runs again on new ones.
macro_rules! network_field {
    ($effect:ident) => {
        field!(
            "network",
            Shape::Record {
                arg: Some(Arg {
                    name: "name",
                    ty: Type::Ref("network")
                }),
                props: &[],
                children: &[
                    field!(
                        "aliases",
                        Shape::List(Type::String),
                        $effect,
                        "Extra names the container answers to on this network"
                    ),
                    field!(
                        "ipv4-address",
                        Shape::Scalar(Type::Ip),
                        $effect,
                        "Fixed address, inside the network's subnet"
                    ),
                ],
            },
            $effect,
            many,
            "A network the container joins; repeatable"
        )
    };
}

/// `resources`: limits a service's running containers take in place; a job runs again.
macro_rules! resources_field {
    ($effect:ident) => {
        field!(
            "resources",
            Shape::Block(&[
                field!("cpus", Shape::Scalar(Type::Float), $effect, "CPU limit, in cores"),
                field!("memory", Shape::Scalar(Type::Size), $effect, "Memory limit"),
                field!(
                    "memory-reservation",
                    Shape::Scalar(Type::Size),
                    $effect,
                    "Memory soft limit"
                ),
            ]),
            $effect,
            "Limits of each container"
        )
    };
}

pub static SERVICE: KindSchema = KindSchema {
    name: "service",
    doc: "One or more containers (replicas) of one image.",
    on_replace: "replace",
    interpolates: true,
    ready: Condition::Exists,
    fields: &[
        IMAGE_TO_RUN,
        COMMAND,
        ENTRYPOINT,
        ENV,
        field!(
            "port",
            Shape::Record {
                arg: Some(Arg {
                    name: "published",
                    ty: Type::Port
                }),
                props: &[
                    prop!(
                        "target",
                        Type::Port,
                        "Port inside the container; defaults to the published port"
                    ),
                    prop!(
                        "protocol",
                        Type::Enum(&["tcp", "udp"]),
                        default = "tcp",
                        "Transport protocol"
                    ),
                    prop!(
                        "host-ip",
                        Type::Ip,
                        default = "0.0.0.0",
                        "Host address to publish on"
                    ),
                    prop!(
                        "mode",
                        Type::Enum(&["ingress", "host"]),
                        "On a swarm: published through the routing mesh on every node (ingress), or on the nodes that run a replica (host)"
                    ),
                ],
                children: &[],
            },
            Replace,
            many,
            "A port published on the host; repeatable"
        ),
        field!(
            "expose",
            Shape::Scalar(Type::Port),
            Replace,
            many,
            "A container port reachable by other services, not published; repeatable"
        ),
        VOLUME_MOUNT,
        BIND,
        TMPFS,
        network_field!(InPlace),
        SECRET_FILE,
        field!(
            "restart",
            Shape::Record {
                arg: Some(Arg {
                    name: "policy",
                    ty: Type::Enum(&["no", "always", "on-failure", "unless-stopped"]),
                }),
                props: &[prop!(
                    "max-retries",
                    Type::Int,
                    "Restarts before giving up, with on-failure"
                )],
                children: &[],
            },
            InPlace,
            default = "unless-stopped",
            "When the daemon restarts the container"
        ),
        resources_field!(InPlace),
        USER,
        WORKDIR,
        HOSTNAME,
        LABELS,
        field!(
            "replicas",
            Shape::Scalar(Type::Int),
            InPlace,
            default = "1",
            "Number of containers"
        ),
        INIT,
        READ_ONLY_ROOT,
        CAP_ADD,
        CAP_DROP,
        STOP_SIGNAL,
        STOP_GRACE_PERIOD,
        field!(
            "probe",
            Shape::Block(SERVICE_PROBE),
            Replace,
            "Health check of each replica"
        ),
        field!(
            "placement",
            Shape::Block(&[
                field!(
                    "constraints",
                    Shape::List(Type::String),
                    InPlace,
                    "On a swarm: conditions a node must meet to run a replica, like \"node.role==worker\""
                ),
                field!(
                    "spread",
                    Shape::List(Type::String),
                    InPlace,
                    "On a swarm: node labels to spread the replicas evenly over, in order, like \"node.labels.zone\""
                ),
            ]),
            InPlace,
            "On a swarm: which nodes run the replicas"
        ),
        field!(
            "endpoint-mode",
            Shape::Scalar(Type::Enum(&["vip", "dnsrr"])),
            InPlace,
            "On a swarm: the service's host name resolves to one virtual address (vip) or to each replica's (dnsrr)"
        ),
        field!(
            "update",
            Shape::Block(&[
                field!(
                    "strategy",
                    Shape::Scalar(Type::Enum(&["rolling", "blue-green", "canary"])),
                    InPlace,
                    default = "rolling",
                    "Replace replicas batch by batch, the whole set at once, or one batch and pause"
                ),
                field!(
                    "order",
                    Shape::Scalar(Type::Enum(&["stop-first", "start-first"])),
                    InPlace,
                    default = "stop-first",
                    "Start the new replica before or after stopping the old one"
                ),
                field!(
                    "parallelism",
                    Shape::Scalar(Type::Int),
                    InPlace,
                    default = "1",
                    "Replicas updated at once"
                ),
                field!(
                    "surge",
                    Shape::Scalar(Type::Count),
                    InPlace,
                    default = "25%",
                    "Replicas started ahead of their batch, beyond parallelism (start-first only)"
                ),
                field!(
                    "delay",
                    Shape::Scalar(Type::Duration),
                    InPlace,
                    default = "0s",
                    "Pause between batches"
                ),
                field!(
                    "monitor",
                    Shape::Scalar(Type::Duration),
                    InPlace,
                    default = "0s",
                    "Time a new replica must stay healthy"
                ),
                field!(
                    "failure-action",
                    Shape::Scalar(Type::Enum(&["rollback", "pause", "continue"])),
                    InPlace,
                    default = "rollback",
                    "What a failed update does"
                ),
                field!(
                    "max-failure-ratio",
                    Shape::Scalar(Type::Float),
                    InPlace,
                    default = "0.0",
                    "Share of replicas that may fail before the failure action"
                ),
            ]),
            Replace,
            "How a change rolls out"
        ),
    ],
};

pub static JOB: KindSchema = KindSchema {
    name: "job",
    doc: "A container run to completion before what depends on it (a migration, a seed). It runs again \
          only when its configuration or inputs change, or when its last run failed.",
    on_replace: "run again",
    interpolates: true,
    ready: Condition::Completed,
    fields: &[
        IMAGE_TO_RUN,
        COMMAND,
        ENTRYPOINT,
        ENV,
        VOLUME_MOUNT,
        BIND,
        TMPFS,
        network_field!(Replace),
        SECRET_FILE,
        resources_field!(Replace),
        USER,
        WORKDIR,
        HOSTNAME,
        LABELS,
        INIT,
        READ_ONLY_ROOT,
        CAP_ADD,
        CAP_DROP,
        STOP_SIGNAL,
        STOP_GRACE_PERIOD,
        field!(
            "timeout",
            Shape::Scalar(Type::Duration),
            Replace,
            default = "10m",
            "How long a run may take before it is stopped and counts as failed"
        ),
        field!(
            "retries",
            Shape::Scalar(Type::Int),
            Replace,
            default = "0",
            "How many times a run that exits with a non-zero code is tried again"
        ),
    ],
};
