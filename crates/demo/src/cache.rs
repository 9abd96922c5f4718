//! `cache`: a line-based key-value server standing in for Redis in the examples.
//! `PING` answers `PONG`, `SET key value` answers `OK`, `GET key` answers the value or `(nil)`.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::thread;

type Store = Arc<Mutex<HashMap<String, String>>>;

pub struct Cache {
    listener: TcpListener,
    store: Store,
}

impl Cache {
    pub fn bind(address: impl ToSocketAddrs) -> io::Result<Cache> {
        Ok(Cache {
            listener: TcpListener::bind(address)?,
            store: Store::default(),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves forever, a thread per client.
    pub fn run(self) -> io::Result<()> {
        for connection in self.listener.incoming() {
            let stream = connection?;
            let store = Arc::clone(&self.store);
            thread::spawn(move || {
                let _ = serve_client(stream, &store);
            });
        }
        Ok(())
    }
}

fn serve_client(stream: TcpStream, store: &Store) -> io::Result<()> {
    let mut writer = &stream;
    for line in BufReader::new(&stream).lines() {
        let line = line?;
        let Some(answer) = answer(line.trim_end(), store) else {
            writer.write_all(b"BYE\n")?;
            break;
        };
        writer.write_all(answer.as_bytes())?;
        writer.write_all(b"\n")?;
    }
    Ok(())
}

/// The answer to one command line, or `None` when the client says `QUIT`.
fn answer(line: &str, store: &Store) -> Option<String> {
    let (command, arguments) = line.split_once(' ').unwrap_or((line, ""));
    // A poisoned lock only means another client's thread panicked; the map is still usable.
    let mut store = store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let answer = match (command.to_ascii_uppercase().as_str(), arguments.split_once(' ')) {
        ("PING", _) => "PONG".to_string(),
        ("QUIT", _) => return None,
        ("SET", Some((key, value))) if !key.is_empty() => {
            store.insert(key.to_string(), value.to_string());
            "OK".to_string()
        }
        ("GET", None) if !arguments.is_empty() => store
            .get(arguments)
            .cloned()
            .unwrap_or_else(|| "(nil)".to_string()),
        ("SET" | "GET", _) => format!("ERR wrong arguments for {command}"),
        _ => format!("ERR unknown command {command:?}"),
    };
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_commands() {
        let store = Store::default();
        assert_eq!(answer("PING", &store).unwrap(), "PONG");
        assert_eq!(answer("GET k", &store).unwrap(), "(nil)");
        assert_eq!(answer("SET k two words", &store).unwrap(), "OK");
        assert_eq!(answer("get k", &store).unwrap(), "two words");
        assert!(answer("SET k", &store).unwrap().starts_with("ERR"));
        assert!(answer("GET", &store).unwrap().starts_with("ERR"));
        assert!(answer("FLUSHALL", &store).unwrap().starts_with("ERR unknown"));
        assert_eq!(answer("QUIT", &store), None);
    }

    #[test]
    fn serves_clients_over_tcp() {
        let cache = Cache::bind("127.0.0.1:0").unwrap();
        let address = cache.local_addr().unwrap();
        // The server thread ends with the test process.
        thread::spawn(move || cache.run());

        let stream = TcpStream::connect(address).unwrap();
        (&stream)
            .write_all(b"SET user ada\nGET user\nPING\nQUIT\n")
            .unwrap();
        let answers: Vec<String> = BufReader::new(&stream).lines().map(Result::unwrap).collect();
        assert_eq!(answers, ["OK", "ada", "PONG", "BYE"]);
    }
}
