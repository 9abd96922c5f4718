//! How much `stack validate` and `stack fmt` cost on top of parsing.
//!
//! Generates a stack of 1,000 services in 10 files and measures, in the same
//! run: kdl's own parse of those files, `validate` (load, evaluate, check,
//! graph) and `fmt`. Prints the two ratios against their goals.
//!
//! Run with `cargo bench -p stack-cli --bench language`.

use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use stack_diagnostics::{FileId, Sources};
use stack_graph::ResourceGraph;
use stack_language::{Options, schema};

const SERVICES: usize = 1_000;
const FILES: usize = 10;
const ROUNDS: usize = 15;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let files = generate(dir.path());
    let bytes: usize = files.iter().map(String::len).sum();
    println!(
        "stack of {SERVICES} services in {FILES} files, {} KiB",
        bytes / 1024
    );

    let parse = median(|| {
        for text in &files {
            let document = kdl::KdlDocument::parse_v2(text).expect("generated files parse");
            std::hint::black_box(document);
        }
    });
    let validate = median(|| {
        let mut sources = Sources::new();
        let validated =
            stack_language::validate(dir.path(), &Options::default(), &schema::builtin(), &mut sources);
        assert!(
            !validated.diagnostics.has_errors(),
            "the generated stack is valid"
        );
        for stack in &validated.stacks {
            std::hint::black_box(ResourceGraph::build(stack).expect("no cycle"));
        }
    });
    let mut sources = Sources::new();
    let ids: Vec<FileId> = files
        .iter()
        .map(|text| sources.add("bench.kdl", "bench.kdl", text.as_str()))
        .collect();
    let fmt = median(|| {
        for (id, text) in ids.iter().zip(&files) {
            std::hint::black_box(stack_fmt::format(*id, text).expect("generated files format"));
        }
    });

    println!("kdl parse        {:>8.1} ms", millis(parse));
    println!("stack validate   {:>8.1} ms", millis(validate));
    println!("stack fmt        {:>8.1} ms", millis(fmt));
    report("validate / parse", validate, parse, 1.5);
    report("fmt / parse", fmt, parse, 2.0);
}

fn report(name: &str, measured: Duration, baseline: Duration, goal: f64) {
    let ratio = measured.as_secs_f64() / baseline.as_secs_f64();
    let verdict = if ratio <= goal {
        "meets the goal"
    } else {
        "ABOVE THE GOAL"
    };
    println!("{name:<17} {ratio:>6.2}  (goal: at most {goal}) {verdict}");
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(mut run: impl FnMut()) -> Duration {
    run();
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

/// Writes the stack into `dir` and returns the files' texts.
fn generate(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let per_file = SERVICES / FILES;
    for file in 0..FILES {
        let mut text = String::new();
        if file == 0 {
            text.push_str("stack \"bench\"\n\nvariable \"version\" type=\"string\" default=\"v1\"\n\n");
            for network in 0..FILES {
                let _ = writeln!(
                    text,
                    "network \"net-{network}\" {{\n    subnet \"10.{network}.0.0/16\"\n}}\n"
                );
            }
        }
        for index in file * per_file..(file + 1) * per_file {
            let _ = write!(
                text,
                r#"// Service {index} of the benchmark.
service "svc-{index}" {{
    image "bench/app:${{var.version}}"
    command "serve" "--port" "8080"
    env {{
        NAME "svc-{index}"
        PEER "{peer_url}"
        LOG_LEVEL "info"
    }}
    port {port} target=8080 host-ip="127.0.0.1"
    network "net-{network}" {{
        aliases "svc-{index}-alias"
    }}
{depends_on}    resources {{
        cpus 0.5
        memory "256MiB"
    }}
    probe {{
        http "http://127.0.0.1:8080/health"
        interval "5s"
    }}
    labels {{
        team "bench"
    }}
}}

"#,
                // Each service reads and waits for the one before it: one long chain.
                peer_url = match index {
                    0 => "http://example:8080".to_owned(),
                    _ => format!("http://${{service.svc-{}}}:8080", index - 1),
                },
                depends_on = match index {
                    0 => String::new(),
                    _ => format!("    depends-on \"svc-{}\" condition=\"healthy\"\n", index - 1),
                },
                port = 20_000 + index,
                network = file,
            );
        }
        std::fs::write(
            dir.join(if file == 0 {
                "stack.kdl".to_owned()
            } else {
                format!("part-{file}.kdl")
            }),
            &text,
        )
        .expect("a generated file");
        files.push(text);
    }
    files
}
