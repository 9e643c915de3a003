//! The two application protocols the interop tests run over a libp2p stream.
//!
//! /echo/1.0.0: the responder writes back every byte it reads until the initiator closes
//! its write side, then closes.
//!
//! /perf/1.0.0 (libp2p/specs perf/perf.md):
//!
//!   client                                   server
//!   u64 big-endian N (bytes to send back) -->
//!   upload bytes ..........................-->  drain until EOF
//!   close write ---------------------------->
//!                                        <--  N bytes, then close
use futures::{AsyncReadExt, AsyncWriteExt};
use libp2p::{PeerId, Stream, StreamProtocol};
use std::io;
use std::time::{Duration, Instant};

pub const ECHO: StreamProtocol = StreamProtocol::new("/echo/1.0.0");
pub const PERF: StreamProtocol = StreamProtocol::new("/perf/1.0.0");
const CHUNK: usize = 64 * 1024;

pub async fn echo_serve(mut s: Stream) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).await?;
    }
    s.close().await
}

/// Sends `data` and compares the echo byte for byte. Writes and reads run concurrently so
/// neither side's flow-control window can deadlock on a large payload.
pub async fn echo_once(s: Stream, data: &[u8]) -> io::Result<()> {
    let (mut rd, mut wr) = s.split();
    let writing = async {
        for chunk in data.chunks(CHUNK) {
            wr.write_all(chunk).await?;
        }
        wr.close().await
    };
    let reading = async {
        let mut got = Vec::with_capacity(data.len());
        rd.read_to_end(&mut got).await?;
        Ok::<_, io::Error>(got)
    };
    let (w, got) = futures::join!(writing, reading);
    w?;
    let got = got?;
    if got.len() != data.len() {
        return Err(io::Error::other(format!(
            "echo: got {} bytes back, sent {}",
            got.len(),
            data.len()
        )));
    }
    if let Some(i) = got.iter().zip(data).position(|(a, b)| a != b) {
        return Err(io::Error::other(format!("echo: byte {i} differs")));
    }
    Ok(())
}

pub async fn perf_serve(mut s: Stream) -> io::Result<()> {
    let mut header = [0u8; 8];
    s.read_exact(&mut header).await?;
    let mut left = u64::from_be_bytes(header);
    let mut buf = vec![0u8; CHUNK];
    while s.read(&mut buf).await? > 0 {}
    let zeros = vec![0u8; CHUNK];
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        s.write_all(&zeros[..n]).await?;
        left -= n as u64;
    }
    s.close().await
}

/// One perf run. Returns (upload seconds, download seconds): the upload ends when the
/// first byte of the download arrives (the server reads to EOF before it answers).
pub async fn perf_run(mut s: Stream, upload: u64, download: u64) -> io::Result<(f64, f64)> {
    let t0 = Instant::now();
    s.write_all(&download.to_be_bytes()).await?;
    let zeros = vec![0u8; CHUNK];
    let mut left = upload;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        s.write_all(&zeros[..n]).await?;
        left -= n as u64;
    }
    s.close().await?;
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    let mut first: Option<Instant> = None;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        first.get_or_insert_with(Instant::now);
        got += n as u64;
    }
    if got != download {
        return Err(io::Error::other(format!(
            "perf: got {got} bytes, asked for {download}"
        )));
    }
    let end = Instant::now();
    let first = first.unwrap_or(end);
    Ok(((first - t0).as_secs_f64(), (end - first).as_secs_f64()))
}

pub async fn open(
    control: &mut libp2p_stream::Control,
    peer: PeerId,
    proto: StreamProtocol,
) -> io::Result<Stream> {
    tokio::time::timeout(Duration::from_secs(15), control.open_stream(peer, proto))
        .await
        .map_err(|_| io::Error::other("opening a stream timed out"))?
        .map_err(|e| io::Error::other(format!("open stream: {e}")))
}
