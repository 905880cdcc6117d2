//! The `healthcheck` subcommand of every binary: one `GET /readyz` on the
//! service's own listen address, so container health checks work in images
//! without curl or a shell.
//!
//! An unspecified listen host (`0.0.0.0`, `[::]`) is probed on loopback.
//! Connect, write and read share one short deadline; the answer is judged by
//! its status line alone (200 means ready).

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::{Duration, Instant};

/// How long a probe may take in all.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The address to probe for a listen address such as `0.0.0.0:8080`.
pub fn target(listen: &str) -> Result<SocketAddr, String> {
    let addr = listen
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve listen address {listen:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("listen address {listen:?} resolves to nothing"))?;
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(ip, addr.port()))
}

/// Sends `GET path` to `addr` and returns the HTTP status code.
pub fn status(addr: SocketAddr, path: &str, timeout: Duration) -> std::io::Result<u16> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))
    };
    let mut stream = TcpStream::connect_timeout(&addr, left()?)?;
    stream.set_write_timeout(Some(left()?))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: healthcheck\r\nConnection: close\r\n\r\n"
    )?;
    // "HTTP/1.1 200 " is 13 bytes; read at most 64 bytes, in at most 64 reads.
    let mut buf = [0u8; 64];
    let mut len = 0;
    while len < 13 && len < buf.len() {
        stream.set_read_timeout(Some(left()?))?;
        match stream.read(&mut buf[len..])? {
            0 => break,
            n => len += n,
        }
    }
    let head = std::str::from_utf8(&buf[..len]).unwrap_or("");
    let mut parts = head.split(' ');
    match (parts.next(), parts.next().map(str::parse::<u16>)) {
        (Some(version), Some(Ok(code))) if version.starts_with("HTTP/1.") => Ok(code),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not an HTTP response",
        )),
    }
}

/// Probes `/readyz` on the service listening at `listen`: `Ok` when it
/// answers 200, else why not.
pub fn check(listen: &str) -> Result<(), String> {
    let addr = target(listen)?;
    match status(addr, "/readyz", TIMEOUT) {
        Ok(200) => Ok(()),
        Ok(code) => Err(format!("not ready: {addr}/readyz answered {code}")),
        Err(e) => Err(format!("not ready: {addr}/readyz: {e}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_hosts_are_probed_on_loopback() {
        assert_eq!(
            target("0.0.0.0:8080"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(target("[::]:81"), Ok("[::1]:81".parse().unwrap()));
        assert_eq!(target("10.1.2.3:9"), Ok("10.1.2.3:9".parse().unwrap()));
        assert!(target("no-port").is_err());
    }

    #[test]
    fn nothing_listening_is_not_ready() {
        // Bind then drop: the port is (almost certainly) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let err = check(&format!("0.0.0.0:{port}")).unwrap_err();
        assert!(err.starts_with("not ready"), "{err}");
    }

    #[test]
    fn a_silent_server_times_out_within_the_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let started = Instant::now();
        let result = status(addr, "/readyz", Duration::from_millis(300));
        assert!(result.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
    }
}
