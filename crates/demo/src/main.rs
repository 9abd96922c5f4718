//! `stack-demo`: the application inside the containers of the examples, tests and benchmarks.
//!
//! Nothing can be pulled where `stack` is tested, so this one small binary, built static and
//! copied into a `FROM scratch` image, plays every part: a web service, its health probe, a
//! Redis stand-in, a one-shot job and a load generator.
//!
//! As PID 1 a process gets no default action for SIGTERM: `serve` and `load` catch it; run
//! `cache` with `init: true` so `docker stop` ends it at once instead of after the stop timeout.

mod args;
mod cache;
mod client;
mod http;
mod load;
mod probe;
mod routes;
mod server;

use std::process::ExitCode;
use std::time::Duration;

use args::Args;

const USAGE: &str = "\
usage:
  stack-demo serve [--port 8080] [--name NAME]
      HTTP service: GET / | /health | /env/NAME | /file?path=P | /data/KEY | /proxy?url=U,
      PUT /data/KEY, POST /shutdown. Env: DEMO_VERSION, DEMO_FAIL_HEALTH=true,
      DEMO_READY_AFTER_MS (/health answers 503 until then).
  stack-demo probe http://HOST:PORT/PATH [--timeout-ms 2000]
  stack-demo probe tcp HOST:PORT [--timeout-ms 2000]
      exit 0 when healthy (HTTP 2xx, TCP port open), 1 otherwise
  stack-demo cache [--port 6379]
      line-based key-value server: PING, SET KEY VALUE, GET KEY, QUIT
  stack-demo job [--exit CODE] [--sleep MS] [--message TEXT]
      print TEXT, sleep, exit with CODE
  stack-demo cat
      copy standard input to standard output, until it ends
  stack-demo load http://HOST:PORT/PATH [--interval-ms 20] [--timeout-ms 2000] [--duration-ms MS]
      GET the URL in a loop (resolving HOST each time) until MS have passed or SIGTERM;
      print each failure, then `load: N requests, F failed; BODY COUNT, ...`

serve stops gracefully on SIGTERM: it refuses new connections and finishes the requests in
flight.
";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = arguments.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "serve" => serve(rest),
        "probe" => probe(rest),
        "cache" => cache(rest),
        "job" => job(rest),
        "load" => load(rest),
        "cat" => cat(),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(format!("unknown command {other:?}")),
    };
    result.unwrap_or_else(|error| {
        eprintln!("stack-demo: {error}\n\n{USAGE}");
        ExitCode::from(2)
    })
}

fn serve(arguments: &[String]) -> Result<ExitCode, String> {
    let args = Args::parse(arguments, &["port", "name"])?;
    let port: u16 = args.get("port", 8080)?;
    let config = routes::Config::from_env(args.get("name", "demo".to_string())?);
    let server =
        server::Server::bind(("0.0.0.0", port), config).map_err(|error| format!("port {port}: {error}"))?;
    let address = server.local_addr().map_err(|error| error.to_string())?;
    server
        .stop_on_sigterm()
        .map_err(|error| format!("cannot catch SIGTERM: {error}"))?;
    println!("stack-demo serve: listening on {address}");
    server.run().map_err(|error| error.to_string())?;
    println!("stack-demo serve: stopped");
    Ok(ExitCode::SUCCESS)
}

fn probe(arguments: &[String]) -> Result<ExitCode, String> {
    let args = Args::parse(arguments, &["timeout-ms"])?;
    let timeout = Duration::from_millis(args.get("timeout-ms", 2000)?);
    let target = probe::Target::parse(&args.positional)?;
    Ok(match probe::check(&target, timeout) {
        Ok(message) => {
            println!("healthy: {message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            println!("unhealthy: {message}");
            ExitCode::FAILURE
        }
    })
}

fn cache(arguments: &[String]) -> Result<ExitCode, String> {
    let args = Args::parse(arguments, &["port"])?;
    let port: u16 = args.get("port", 6379)?;
    let cache = cache::Cache::bind(("0.0.0.0", port)).map_err(|error| format!("port {port}: {error}"))?;
    let address = cache.local_addr().map_err(|error| error.to_string())?;
    println!("stack-demo cache: listening on {address}");
    cache.run().map_err(|error| error.to_string())?;
    Ok(ExitCode::SUCCESS)
}

fn job(arguments: &[String]) -> Result<ExitCode, String> {
    let args = Args::parse(arguments, &["exit", "sleep", "message"])?;
    let code: u8 = args.get("exit", 0)?;
    let sleep = Duration::from_millis(args.get("sleep", 0)?);
    println!("{}", args.get("message", "job done".to_string())?);
    std::thread::sleep(sleep);
    Ok(ExitCode::from(code))
}

fn cat() -> Result<ExitCode, String> {
    std::io::copy(&mut std::io::stdin().lock(), &mut std::io::stdout().lock())
        .map_err(|error| format!("cannot copy standard input: {error}"))?;
    Ok(ExitCode::SUCCESS)
}

fn load(arguments: &[String]) -> Result<ExitCode, String> {
    let args = Args::parse(arguments, &["interval-ms", "timeout-ms", "duration-ms"])?;
    let [url] = args.positional.as_slice() else {
        return Err("load takes one URL".to_string());
    };
    let duration: u64 = args.get("duration-ms", 0)?;
    let load = load::Load {
        url: url.clone(),
        interval: Duration::from_millis(args.get("interval-ms", 20)?),
        timeout: Duration::from_millis(args.get("timeout-ms", 2000)?),
        duration: (duration > 0).then(|| Duration::from_millis(duration)),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, std::sync::Arc::clone(&stop))
        .map_err(|error| format!("cannot catch SIGTERM: {error}"))?;
    let tally = load.run(&stop);
    println!("{}", tally.summary());
    Ok(ExitCode::SUCCESS)
}
