//! The everyday commands against the real daemon: `stack logs` (merged, followed across a
//! restart), `stack exec` (exit codes, standard input, a terminal) and `stack run`.

// Test code may unwrap.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::LiveStack;

/// Two replicas of the demo's web service, a job printing a message and exiting with
/// `var.code`.
const STACK: &str = r#"
variable "code" type="int" default=0
image "demo" {
    context "app"
}
service "web" {
    image "${image.demo}"
    command "serve" "--port" "8080" "--name" "web"
    replicas 2
    stop-grace-period "2s"
    probe {
        exec "/stack-demo" "probe" "http://127.0.0.1:8080/health"
        interval "200ms"
    }
}
job "hello" {
    image "${image.demo}"
    command "job" "--message" "hello from the job" "--exit" "${var.code}"
}
"#;

const LISTENING: &str = "stack-demo serve: listening on 0.0.0.0:8080";

fn applied() -> Option<LiveStack> {
    let live = LiveStack::new()?;
    live.demo_context("app");
    live.write("stack.kdl", STACK);
    live.run("apply", &["--auto-approve"]).success();
    Some(live)
}

/// Runs `stack ARGS` with `input` on its standard input; its status and standard output.
fn with_input(args: &[&str], input: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stack"))
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() || !stderr.is_empty(), "{stderr}");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Waits until `check` holds of what the spawned run `label` printed.
fn until(live: &LiveStack, label: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let output = live.output(label);
        if check(&output) {
            return output;
        }
        assert!(Instant::now() < give_up, "{what}, never seen in:\n{output}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn logs_merge_every_replica_in_time_order_and_show_a_finished_job() {
    let Some(live) = applied() else {
        return;
    };
    let all = live.run("logs --path", &[]).success();
    for line in [
        format!("web-1 | {LISTENING}"),
        format!("web-2 | {LISTENING}"),
        "hello | hello from the job".to_owned(),
    ] {
        assert!(all.stdout.contains(&line), "no {line:?} in:\n{}", all.stdout);
    }
    assert!(!all.stdout.contains('\x1b'), "colors on a pipe:\n{}", all.stdout);

    let timed = live.run("logs --path", &["--timestamps"]).success();
    let times: Vec<&str> = timed
        .stdout
        .lines()
        .map(|line| line.split(" | ").nth(1).unwrap().split(' ').next().unwrap())
        .collect();
    assert!(times.len() >= 3, "{}", timed.stdout);
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "not in time order:\n{}",
        timed.stdout
    );

    let web = live.run("logs web --path", &["--tail", "1"]).success();
    assert_eq!(
        web.stdout.lines().count(),
        2,
        "one line of each replica:\n{}",
        web.stdout
    );
    assert!(!web.stdout.contains("hello"), "{}", web.stdout);

    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let none = live
        .run("logs --path", &["--since", &later.to_string()])
        .success();
    assert_eq!(none.stdout, "", "nothing was written in the future");
    live.run("logs job.hello --path", &["--since", "1h"])
        .success()
        .stdout_contains("hello from the job");

    live.run("logs nope --path", &[])
        .status(1)
        .stderr_contains("has no service or job `nope`")
        .stderr_contains("service.web, job.hello");
}

#[test]
fn logs_follow_the_replicas_a_restart_starts_and_the_restart_waits_for_each() {
    let Some(live) = applied() else {
        return;
    };
    let mut following = live.spawn("logs web --path", &["-f"], "follow");
    let listening = format!("web-1 | {LISTENING}");
    until(&live, "follow", "the first replica's start", |output| {
        output.contains(&listening)
    });
    let before = live.container_ids("web");

    live.run("restart web --path", &[])
        .success()
        .stdout_contains("service.web restarted");
    let after = live.container_ids("web");
    assert!(
        after.iter().all(|id| !before.contains(id)),
        "every replica is a fresh container"
    );
    assert!(
        live.containers().iter().all(|(name, _)| !name.ends_with(".prev")),
        "a restart keeps no revision of its own: {:?}",
        live.containers()
    );
    // Stop-first, one at a time: replica 2 started after replica 1 was up again.
    let started = |number: u32| {
        let time = support::docker(&[
            "inspect",
            "--format",
            "{{.State.StartedAt}}",
            &live.object(&format!("web-{number}")),
        ]);
        // RFC 3339 drops the fraction's trailing zeros: pad it to compare as text.
        let (seconds, fraction) = time.trim().trim_end_matches('Z').split_once('.').unwrap();
        format!("{seconds}.{fraction:0<9}")
    };
    assert!(started(1) < started(2), "{} then {}", started(1), started(2));

    let output = until(&live, "follow", "the restarted replicas' start", |output| {
        output.matches(&listening).count() == 2
            && output.matches(&format!("web-2 | {LISTENING}")).count() == 2
    });
    assert!(output.contains("web-1 | stack-demo serve: stopped"), "{output}");
    let _ = following.kill();
    let _ = following.wait();
    live.run("plan", &["--detailed-exitcode"]).success();

    // A restart starts what runs: files that say otherwise must be applied instead.
    live.write(
        "stack.kdl",
        STACK.replace("replicas 2", "replicas 2\n    env {\n        MORE \"1\"\n    }"),
    );
    live.run("restart web --path", &[])
        .status(1)
        .stderr_contains("service.web runs another configuration than the files say (env changed)");
    assert_eq!(live.container_ids("web"), after, "nothing was restarted");
}

#[test]
fn exec_runs_in_a_replica_and_passes_its_exit_code_and_input_through() {
    let Some(live) = applied() else {
        return;
    };
    live.run(
        "exec web",
        &["--", "/stack-demo", "job", "--message", "inside", "--exit", "3"],
    )
    .status(3)
    .stdout_contains("inside");
    live.run(
        "exec web",
        &[
            "--replica",
            "2",
            "--",
            "/stack-demo",
            "job",
            "--message",
            "in two",
        ],
    )
    .success()
    .stdout_contains("in two");
    live.run("exec web", &["--replica", "9", "--", "/stack-demo", "job"])
        .status(1)
        .stderr_contains("service.web has no running replica 9")
        .stderr_contains("web-1 (running), web-2 (running)");

    let path = live.path();
    let args = [
        "exec",
        "web",
        &path,
        "--name",
        &live.name,
        "-i",
        "--",
        "/stack-demo",
        "cat",
    ];
    let (status, stdout) = with_input(&args, "one\ntwo\n");
    assert_eq!((status, stdout.as_str()), (Some(0), "one\ntwo\n"));

    // On a terminal of its own, the command ends its lines with `\r\n`, and the terminal of
    // `script` turns the `\n` into `\r\n` again: without -t the line would end `tty\r\n`.
    let command = format!(
        "{} exec web {path} --name {} -t -- /stack-demo job --message tty",
        env!("CARGO_BIN_EXE_stack"),
        live.name
    );
    let script = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&script.stdout);
    assert!(script.status.success(), "{seen}");
    assert!(seen.contains("tty\r\r\n"), "{seen:?}");
}

#[test]
fn run_runs_a_job_again_with_its_output_and_its_exit_code() {
    let Some(live) = applied() else {
        return;
    };
    let ran = live
        .run("run hello", &[])
        .success()
        .stdout_contains("job.hello completed.");
    assert_eq!(
        ran.stdout.matches("hello | hello from the job").count(),
        1,
        "this run's output, not the one before:\n{}",
        ran.stdout
    );
    live.run("run hello", &["--var", "code=3"])
        .status(3)
        .stdout_contains("hello | hello from the job")
        .stderr_contains("job.hello: its run exited with code 3");
    live.run("run web", &[])
        .status(1)
        .stderr_contains("has no job `web`");

    // What the job uses is applied first.
    live.write("app/VERSION", "2");
    live.run("run hello", &[])
        .status(1)
        .stderr_contains("job.hello uses what is not applied yet: image.demo");
}

#[test]
fn watch_applies_again_once_after_a_burst_of_saves_and_goes_on_after_a_failure() {
    let Some(live) = LiveStack::new() else {
        return;
    };
    live.demo_context("app");
    live.write("app/.dockerignore", "*.log\n");
    live.write("stack.kdl", STACK);
    let mut watching = live.spawn("watch", &[], "watch");
    let applies = |output: &str| output.matches("Apply complete").count();
    let watching_again = |output: &str, times: usize| output.matches("Watching ").count() == times;
    until(&live, "watch", "the first apply", |output| {
        watching_again(output, 1)
    });
    let first = live.output("watch");
    assert_eq!(applies(&first), 1, "{first}");
    assert_eq!(live.container_ids("web").len(), 2, "{first}");

    // A burst of saves is one apply, of what changed.
    for replicas in ["3", "1", "3"] {
        live.write(
            "stack.kdl",
            STACK.replace("replicas 2", &format!("replicas {replicas}")),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = until(&live, "watch", "an apply after the burst", |output| {
        watching_again(output, 2)
    });
    assert_eq!(applies(&output), 2, "{output}");
    assert!(output.contains("Changed: "), "{output}");
    assert!(output.contains("~ service.web"), "{output}");
    assert_eq!(live.container_ids("web").len(), 3, "{output}");

    // What .dockerignore leaves out is no change; a broken file is shown and watching goes on.
    live.write("app/debug.log", "ignored");
    live.write("stack.kdl", "service \"web\" {\n    replicas \"many\"\n}\n");
    let output = until(&live, "watch", "the broken file's diagnostics", |output| {
        watching_again(output, 3)
    });
    assert!(output.contains("service `web` has no `image`"), "{output}");
    assert!(
        !output.contains("app/debug.log"),
        "an ignored file counted: {output}"
    );
    live.write("stack.kdl", STACK);
    let output = until(&live, "watch", "the fixed file's apply", |output| {
        watching_again(output, 4)
    });
    assert_eq!(applies(&output), 3, "{output}");
    assert_eq!(live.container_ids("web").len(), 2, "{output}");

    // A change in the build context builds the image again and rolls the services out.
    let before = live.container_ids("web");
    live.write("app/VERSION", "2");
    let output = until(&live, "watch", "the rebuild", |output| watching_again(output, 5));
    assert_eq!(applies(&output), 4, "{output}");
    assert!(output.contains("image.demo"), "{output}");
    assert!(
        live.container_ids("web").iter().all(|id| !before.contains(id)),
        "{output}"
    );
    let _ = watching.kill();
    let _ = watching.wait();
}
