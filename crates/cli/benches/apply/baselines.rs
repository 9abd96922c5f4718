//! What `stack` is measured against, run beside it: the same containers made
//! straight through the API, by parallel `docker run` and by
//! `docker-compose up -d`, and the reads a no-op plan needs, done directly.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use stack_docker::{DockerClient, LabelFilter, Labels, NetworkSpec};
use tokio::task::JoinSet;

use crate::interrupted;
use crate::workload::{self, BENCH_LABEL};

/// Creates the network, then creates and starts `services` containers with
/// `parallelism` requests in flight, as a client that does nothing else would.
pub async fn api_apply(
    client: &DockerClient,
    run: &str,
    image: &str,
    services: usize,
    parallelism: usize,
) -> Result<Duration, String> {
    let started = Instant::now();
    let network = format!("{run}_net");
    client
        .create_network(&NetworkSpec {
            name: network.clone(),
            labels: Labels::from([(BENCH_LABEL.to_owned(), run.to_owned())]),
            ..NetworkSpec::default()
        })
        .await
        .map_err(|error| error.to_string())?;
    let next = Arc::new(AtomicUsize::new(1));
    let mut workers = JoinSet::new();
    for _ in 0..parallelism {
        let (client, next) = (client.clone(), Arc::clone(&next));
        let (run, network, image) = (run.to_owned(), network.clone(), image.to_owned());
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index > services || interrupted() {
                    return Ok(());
                }
                let spec = workload::container(&run, &network, &image, index);
                client.create_container(&spec).await?;
                client.start_container(&spec.name).await?;
            }
        });
    }
    while let Some(worker) = workers.join_next().await {
        worker
            .map_err(|error| error.to_string())?
            .map_err(|error: stack_docker::DockerError| error.to_string())?;
    }
    Ok(started.elapsed())
}

/// `docker network create`, then one `docker run -d` per container, `parallelism` at once.
pub fn docker_run(run: &str, image: &str, services: usize, parallelism: usize) -> Result<Duration, String> {
    let started = Instant::now();
    let network = format!("{run}_net");
    let label = format!("{BENCH_LABEL}={run}");
    let mut create = Command::new("docker");
    create.args(["network", "create", "--label", &label, &network]);
    crate::run(&mut create)?;
    let mut xargs = Command::new("xargs");
    xargs
        .args(["-P", &parallelism.to_string(), "-L", "1", "docker"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = xargs
        .spawn()
        .map_err(|error| format!("cannot run xargs: {error}"))?;
    let lines = workload::docker_run_lines(run, &network, image, services);
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(lines.as_bytes())
            .map_err(|error| format!("cannot feed xargs: {error}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|error| format!("xargs: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "parallel docker run failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(started.elapsed())
}

/// `docker-compose -p PROJECT -f FILE up -d`. Compose v1 runs each service's
/// containers as tasks nested in the service's task, in one pool of
/// `COMPOSE_PARALLEL_LIMIT` (64) threads: with more services than that it can
/// wait on itself forever (docker/compose#5864, #6705). A limit above twice
/// the number of services leaves room for both levels.
pub fn compose_up(project: &str, file: &std::path::Path, services: usize) -> Result<Duration, String> {
    let mut compose = Command::new("docker-compose");
    compose
        .env("COMPOSE_PARALLEL_LIMIT", (2 * services + 64).to_string())
        .args(["-p", project, "-f"])
        .arg(file)
        .args(["up", "-d"]);
    crate::run(&mut compose)
}

/// What a no-op plan of the stack must read, done directly and in parallel:
/// its containers, networks, volumes and images listed by label, and each
/// container inspected. Returns how many containers were inspected.
pub async fn reads(client: &DockerClient, stack: &str) -> Result<usize, String> {
    let filter = LabelFilter::new("dev.stack.stack", stack);
    let image_filter = LabelFilter::new("dev.stack.image.stack", stack);
    let containers = async {
        let listed = client.list_containers(&filter).await?;
        let mut inspects = JoinSet::new();
        for container in listed {
            let client = client.clone();
            inspects.spawn(async move { client.inspect_container(&container.id).await });
        }
        let mut inspected = 0;
        while let Some(inspect) = inspects.join_next().await {
            if let Ok(result) = inspect {
                result?;
                inspected += 1;
            }
        }
        Ok::<usize, stack_docker::DockerError>(inspected)
    };
    let (inspected, networks, volumes, images) = tokio::join!(
        containers,
        client.list_networks(&filter),
        client.list_volumes(&filter),
        client.list_images(&image_filter)
    );
    networks.map_err(|error| error.to_string())?;
    volumes.map_err(|error| error.to_string())?;
    images.map_err(|error| error.to_string())?;
    inspected.map_err(|error| error.to_string())
}

/// The same reads by the `docker` command line, its commands in parallel:
/// `docker ps` then one `docker inspect` of every container found, beside
/// `docker network ls`, `docker volume ls` and `docker image ls`. This is how
/// someone reads a stack's state by hand. Returns how long they took.
pub fn cli_reads(stack: &str, services: usize) -> Result<Duration, String> {
    let filter = format!("label=dev.stack.stack={stack}");
    let image_filter = format!("label=dev.stack.image.stack={stack}");
    let started = Instant::now();
    std::thread::scope(|scope| {
        let containers = scope.spawn(|| {
            let mut list = Command::new("docker");
            list.args(["ps", "-aq", "--no-trunc", "--filter", &filter]);
            let ids = crate::output_of(&mut list)?;
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if ids.len() != services {
                return Err(format!(
                    "docker ps found {} containers, not {services}",
                    ids.len()
                ));
            }
            let mut inspect = Command::new("docker");
            inspect.arg("inspect").args(&ids);
            crate::output_of(&mut inspect).map(drop)
        });
        let lists: Vec<_> = ["network", "volume", "image"]
            .into_iter()
            .map(|kind| {
                let filter = if kind == "image" { &image_filter } else { &filter };
                scope.spawn(move || {
                    let mut list = Command::new("docker");
                    list.args([kind, "ls", "--filter", filter]);
                    crate::output_of(&mut list).map(drop)
                })
            })
            .collect();
        for read in std::iter::once(containers).chain(lists) {
            read.join()
                .map_err(|_| "a docker command thread panicked".to_owned())??;
        }
        Ok(started.elapsed())
    })
}
