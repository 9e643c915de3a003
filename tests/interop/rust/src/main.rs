//! rustpeer: a rust-libp2p test peer for holepunch's interop tests and NAT-lab matrix.
//! One JSON object per line on stdout, logs on stderr. The modes and their events are the
//! test-peer contract shared with the go peer (tests/interop/README.md):
//!
//!   rustpeer relay --listen MA [--announce MA]... [--key F] [--data-limit B] [--duration-limit S]
//!   rustpeer listen [--listen MA]... [--key F] [--relay MA] [--external MA]...
//!   rustpeer dial MA [--listen MA]... [--key F] [--external MA]... [--wait-direct S]
//!                    [--echo-bytes N] [--streams N] [--pings N] [--perf BYTES]
//!   rustpeer perf MA --upload BYTES --download BYTES
//!   rustpeer connrate MA --count N
//!   rustpeer id --key F
//! Every mode takes --timeout SEC (overall; default 300 for servers, 60 for clients).
mod node;
mod serve;
mod wire;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use node::{Cmd, Ev, Node};
use rand::RngCore;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub fn emit(v: Value) {
    println!("{v}");
}

struct Args {
    pos: Vec<String>,
    flags: HashMap<String, Vec<String>>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut pos = Vec::new();
        let mut flags: HashMap<String, Vec<String>> = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                flags.entry(name.to_string()).or_default().push(v);
            } else {
                pos.push(a);
            }
        }
        Ok(Args { pos, flags })
    }
    fn one(&self, k: &str) -> Option<&str> {
        self.flags.get(k).and_then(|v| v.last()).map(|s| s.as_str())
    }
    fn num(&self, k: &str, d: u64) -> Result<u64, String> {
        self.one(k).map_or(Ok(d), |v| {
            v.parse().map_err(|_| format!("--{k}: not a number: {v}"))
        })
    }
    fn addrs(&self, k: &str) -> Result<Vec<Multiaddr>, String> {
        self.flags
            .get(k)
            .map_or(Ok(Vec::new()), |v| v.iter().map(|s| ma(s)).collect())
    }
}

fn ma(s: &str) -> Result<Multiaddr, String> {
    s.parse().map_err(|e| format!("bad multiaddr {s}: {e}"))
}

fn peer_of(a: &Multiaddr) -> Option<PeerId> {
    a.iter()
        .filter_map(|p| {
            if let Protocol::P2p(id) = p {
                Some(id)
            } else {
                None
            }
        })
        .last()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 * 8.0 / 1e6 / secs
    } else {
        0.0
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let code = match run().await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rustpeer: {e}");
            1
        }
    };
    std::process::exit(code);
}

async fn run() -> Result<(), String> {
    let args = Args::parse()?;
    let mode = args.pos.first().cloned().unwrap_or_default();
    let server = matches!(mode.as_str(), "relay" | "listen");
    let timeout = Duration::from_secs(args.num("timeout", if server { 300 } else { 60 })?);
    let key = node::load_key(args.one("key"))?;
    if mode == "id" {
        println!("{}", key.public().to_peer_id());
        return Ok(());
    }
    let relay_limits = (mode == "relay").then(|| -> Result<node::RelayLimits, String> {
        Ok(node::RelayLimits {
            data_bytes: args.num("data-limit", 1 << 24)?,
            duration: Duration::from_secs(args.num("duration-limit", 600)?),
        })
    });
    let relay_limits = relay_limits.transpose()?;
    let swarm = node::build(key, relay_limits)?;
    let mut listen = args.addrs("listen")?;
    let mut external = args.addrs("external")?;
    if mode == "relay" {
        external.extend(args.addrs("announce")?);
    }
    if server && listen.is_empty() {
        listen.push(ma("/ip4/127.0.0.1/tcp/0")?);
    }
    let mut n = node::start(
        swarm,
        &listen,
        &external,
        mode == "relay",
        mode == "connrate",
    );
    if !listen.is_empty() {
        // libp2p-tcp reuses a listen port for dials only once the listener has reported its
        // address; a dial to the relay before that would leave from an ephemeral port, and
        // the NAT mapping DCUtR punches would not be the listen port's.
        n.wait("the listen addresses", 10, |e| {
            matches!(e, Ev::Listening).then_some(Ok(()))
        })
        .await?;
    }
    let work = async {
        match mode.as_str() {
            "relay" => serve_forever(&mut n).await,
            "listen" => listen_mode(&mut n, &args).await,
            "dial" => dial_mode(&mut n, &args).await,
            "perf" => perf_mode(&mut n, &args).await,
            "connrate" => connrate_mode(&mut n, &args).await,
            m => Err(format!(
                "unknown mode '{m}' (relay|listen|dial|perf|connrate|id)"
            )),
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) if server => Ok(()),
        Err(_) => {
            let e = format!("timed out after {}s", timeout.as_secs());
            if mode == "dial" {
                emit(json!({"event":"result","ok":false,"error":e}));
            }
            Err(e)
        }
    }
}

async fn serve_forever(n: &mut Node) -> Result<(), String> {
    loop {
        n.next().await?;
    }
}

/// Connects to the relay and waits for its identify before reserving or dialing through
/// it: rust-libp2p's DCUtR hands the other side the observed addresses it knows when the
/// relayed connection opens, and those come from identify.
async fn via_relay(n: &mut Node, relay: &Multiaddr) -> Result<(), String> {
    let rp = peer_of(relay).ok_or("relay address needs /p2p/<id>")?;
    let _ = n.cmds.send(Cmd::Dial(relay.clone()));
    n.wait("the relay's identify", 15, |e| match e {
        Ev::Identified { peer } if *peer == rp => Some(Ok(())),
        Ev::DialFailed {
            peer: Some(p),
            error,
        } if *p == rp => Some(Err(format!("relay: {error}"))),
        Ev::DialFailed { peer: None, error } => Some(Err(error.clone())),
        _ => None,
    })
    .await?;
    // The Swarm hands identify's observed address to DCUtR in a later poll than the identify
    // event; confirming --external before that would drop the candidate (node.rs).
    n.wait("the observed-address candidate", 5, |e| {
        matches!(e, Ev::Candidate).then_some(Ok(()))
    })
    .await?;
    n.confirm_external();
    Ok(())
}

async fn listen_mode(n: &mut Node, args: &Args) -> Result<(), String> {
    if let Some(r) = args.one("relay") {
        let relay = ma(r)?;
        via_relay(n, &relay).await?;
        let _ = n.cmds.send(Cmd::Listen(relay.with(Protocol::P2pCircuit)));
    } else {
        n.confirm_external();
    }
    serve_forever(n).await
}

async fn dial_mode(n: &mut Node, args: &Args) -> Result<(), String> {
    let r = dial_checks(n, args).await;
    match r {
        Ok(mut v) => {
            v["event"] = json!("result");
            v["ok"] = json!(true);
            emit(v);
            Ok(())
        }
        Err(e) => {
            emit(json!({"event":"result","ok":false,"error":e}));
            Err(e)
        }
    }
}

async fn dial_checks(n: &mut Node, args: &Args) -> Result<Value, String> {
    let target = ma(args.pos.get(1).ok_or("dial needs a multiaddr")?)?;
    let peer = peer_of(&target).ok_or("dial address needs /p2p/<id>")?;
    let circuit = target.iter().any(|p| p == Protocol::P2pCircuit);
    if circuit {
        let relay: Multiaddr = target
            .iter()
            .take_while(|p| *p != Protocol::P2pCircuit)
            .collect();
        via_relay(n, &relay).await?;
    } else {
        n.confirm_external();
    }
    let t0 = Instant::now();
    let _ = n.cmds.send(Cmd::Dial(target.clone()));
    let (conn, endpoint, relayed_ms) = if circuit {
        let (relayed, _) = n
            .wait("the relayed connection", 15, |e| match e {
                Ev::Established {
                    peer: p,
                    conn,
                    endpoint,
                } if *p == peer && endpoint.is_relayed() => Some(Ok((*conn, endpoint.clone()))),
                Ev::DialFailed {
                    peer: Some(p),
                    error,
                } if *p == peer => Some(Err(format!("relayed dial: {error}"))),
                Ev::DialFailed { peer: None, error } => Some(Err(error.clone())),
                _ => None,
            })
            .await?;
        let relayed_ms = ms(t0.elapsed());
        let t1 = Instant::now();
        let wait = args.num("wait-direct", 30)?;
        // dcutr::Event carries no attempt number: one DCUtR round is one direct dial per
        // side, so the attempt that worked is the failed direct dials + 1.
        let mut failed = 0u32;
        let (conn, endpoint) = n
            .wait("the direct connection (DCUtR)", wait, |e| match e {
                Ev::DialFailed { peer: Some(p), .. } if *p == peer => {
                    failed += 1;
                    None
                }
                Ev::Established {
                    peer: p,
                    conn,
                    endpoint,
                } if *p == peer && !endpoint.is_relayed() => Some(Ok((*conn, endpoint.clone()))),
                Ev::HolepunchFailed { peer: p, error } if *p == peer => {
                    Some(Err(format!("holepunch failed: {error}")))
                }
                _ => None,
            })
            .await?;
        let direct_ms = ms(t1.elapsed());
        // libp2p-stream opens a stream on a random connection to the peer; closing the
        // relayed one leaves only the punched connection for the checks.
        let _ = n.cmds.send(Cmd::Close(relayed));
        n.wait("the relayed connection to close", 10, |e| match e {
            Ev::Closed { conn } if *conn == relayed => Some(Ok(())),
            _ => None,
        })
        .await?;
        (conn, endpoint, Some((relayed_ms, direct_ms, failed + 1)))
    } else {
        let (conn, endpoint) = n
            .wait("the connection", 15, |e| match e {
                Ev::Established {
                    peer: p,
                    conn,
                    endpoint,
                } if *p == peer => Some(Ok((*conn, endpoint.clone()))),
                Ev::DialFailed { error, .. } => Some(Err(format!("dial: {error}"))),
                _ => None,
            })
            .await?;
        (conn, endpoint, None)
    };
    let init = node::upgrade_initiator(&endpoint);
    let (local, remote) = node::addrs(&endpoint);

    // ping::Behaviour pings every connection once a second; keep the ones on this one.
    let mut pings = Vec::new();
    let want = args.num("pings", 3)? as usize;
    while pings.len() < want {
        let rtt = n
            .wait("a ping on the direct connection", 15, |e| match e {
                Ev::Ping {
                    peer: p,
                    conn: c,
                    rtt,
                } if *p == peer && *c == conn => Some(Ok(*rtt)),
                Ev::Closed { conn: c } if *c == conn => Some(Err("the connection closed".into())),
                _ => None,
            })
            .await?;
        pings.push(ms(rtt));
    }

    let streams = args.num("streams", 1)?;
    let bytes = args.num("echo-bytes", 65536)? as usize;
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let mut c = n.control.clone();
        let mut data = vec![0u8; bytes];
        rand::thread_rng().fill_bytes(&mut data);
        tasks.push(tokio::spawn(async move {
            let s = wire::open(&mut c, peer, wire::ECHO).await?;
            wire::echo_once(s, &data).await
        }));
    }
    let echo = drive_while(n, futures::future::join_all(tasks)).await;
    for r in echo {
        r.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }

    let mut v = json!({"relayed":circuit,"relayed_ms":null,"direct_ms":null,"attempt":null,"role":null,
        "noise_initiator":init,"yamux_client":init,"local":local,"remote":remote,
        "echo_ok":true,"ping_ms":pings,"perf_up_mbps":null,"perf_down_mbps":null});
    if let Some((r, d, attempt)) = relayed_ms {
        v["relayed_ms"] = json!(r);
        v["direct_ms"] = json!(d);
        v["attempt"] = json!(attempt);
        v["role"] = json!("A");
    }
    if let Some(b) = args.one("perf") {
        let b: u64 = b.parse().map_err(|_| "--perf: not a number")?;
        let (up, _) = perf_once(n, peer, b, 0).await?;
        let (_, down) = perf_once(n, peer, 0, b).await?;
        v["perf_up_mbps"] = json!(mbps(b, up));
        v["perf_down_mbps"] = json!(mbps(b, down));
    }
    Ok(v)
}

/// Runs `f` while draining the node's events (the Swarm task never blocks on them, but
/// the queue would grow without bound).
async fn drive_while<F: std::future::Future>(n: &mut Node, f: F) -> F::Output {
    tokio::pin!(f);
    loop {
        tokio::select! {
            out = &mut f => return out,
            _ = n.evs.recv() => {}
        }
    }
}

async fn perf_once(n: &mut Node, peer: PeerId, up: u64, down: u64) -> Result<(f64, f64), String> {
    let mut c = n.control.clone();
    let run = async move {
        let s = wire::open(&mut c, peer, wire::PERF).await?;
        wire::perf_run(s, up, down).await
    };
    drive_while(n, run).await.map_err(|e| e.to_string())
}

async fn connect(
    n: &mut Node,
    target: &Multiaddr,
    peer: PeerId,
) -> Result<libp2p::swarm::ConnectionId, String> {
    let _ = n.cmds.send(Cmd::Dial(target.clone()));
    n.wait("the connection", 15, |e| match e {
        Ev::Established { peer: p, conn, .. } if *p == peer => Some(Ok(*conn)),
        Ev::DialFailed { error, .. } => Some(Err(format!("dial: {error}"))),
        _ => None,
    })
    .await
}

async fn perf_mode(n: &mut Node, args: &Args) -> Result<(), String> {
    let target = ma(args.pos.get(1).ok_or("perf needs a multiaddr")?)?;
    let peer = peer_of(&target).ok_or("perf address needs /p2p/<id>")?;
    let (up, down) = (args.num("upload", 0)?, args.num("download", 0)?);
    connect(n, &target, peer).await?;
    let (su, sd) = perf_once(n, peer, up, down).await?;
    emit(
        json!({"event":"perf","upload_bytes":up,"download_bytes":down,"seconds":su + sd,
        "upload_seconds":su,"download_seconds":sd}),
    );
    Ok(())
}

async fn connrate_mode(n: &mut Node, args: &Args) -> Result<(), String> {
    let target = ma(args.pos.get(1).ok_or("connrate needs a multiaddr")?)?;
    let peer = peer_of(&target).ok_or("connrate address needs /p2p/<id>")?;
    let count = args.num("count", 100)?;
    let t0 = Instant::now();
    for _ in 0..count {
        let conn = connect(n, &target, peer).await?;
        let mut c = n.control.clone();
        let one = async move {
            let s = wire::open(&mut c, peer, wire::ECHO).await?;
            wire::echo_once(s, &[0x2a]).await
        };
        drive_while(n, one).await.map_err(|e| e.to_string())?;
        let _ = n.cmds.send(Cmd::Close(conn));
        n.wait("the connection to close", 10, |e| match e {
            Ev::Closed { conn: c } if *c == conn => Some(Ok(())),
            _ => None,
        })
        .await?;
    }
    emit(json!({"event":"connrate","count":count,"seconds":t0.elapsed().as_secs_f64()}));
    Ok(())
}
