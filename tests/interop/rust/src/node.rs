//! The rust-libp2p node every mode runs, and the task that owns its Swarm.
//!
//! The Swarm lives in one task (`drive`); modes talk to it through `Cmd`s and see what
//! happens as `Ev`s. The task itself prints the contract's unsolicited JSON events
//! (listening, identify, reserved, reservation, circuit, direct, holepunch_failed).
use crate::emit;
use futures::StreamExt;
use libp2p::core::{ConnectedPoint, Endpoint};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{behaviour::toggle::Toggle, ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{dcutr, identify, identity, noise, ping, relay, tcp, yamux, Multiaddr, PeerId, Swarm};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    relay_client: relay::client::Behaviour,
    relay: Toggle<relay::Behaviour>,
    dcutr: dcutr::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    stream: libp2p_stream::Behaviour,
    serve: crate::serve::Behaviour,
}

pub struct RelayLimits {
    pub data_bytes: u64,
    pub duration: Duration,
}

/// Loads a protobuf `PrivateKey` file (the format `holepunch keys` writes), or creates an
/// Ed25519 one there, so a test can know the peer ID before the peer starts.
pub fn load_key(path: Option<&str>) -> Result<identity::Keypair, String> {
    let Some(path) = path else {
        return Ok(identity::Keypair::generate_ed25519());
    };
    match std::fs::read(path) {
        Ok(bytes) => identity::Keypair::from_protobuf_encoding(&bytes)
            .map_err(|e| format!("key file {path}: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = identity::Keypair::generate_ed25519();
            let bytes = k.to_protobuf_encoding().map_err(|e| e.to_string())?;
            std::fs::write(path, bytes).map_err(|e| format!("key file {path}: {e}"))?;
            Ok(k)
        }
        Err(e) => Err(format!("key file {path}: {e}")),
    }
}

pub fn build(
    key: identity::Keypair,
    relay: Option<RelayLimits>,
) -> Result<Swarm<Behaviour>, String> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| e.to_string())?
        .with_behaviour(|key, relay_client| {
            let me = key.public().to_peer_id();
            let relay = relay.map(|l| {
                // No rate limiters: the matrix reserves and dials many times from one
                // address within seconds.
                relay::Behaviour::new(
                    me,
                    relay::Config {
                        max_circuit_bytes: l.data_bytes,
                        max_circuit_duration: l.duration,
                        reservation_rate_limiters: Vec::new(),
                        circuit_src_rate_limiters: Vec::new(),
                        ..Default::default()
                    },
                )
            });
            Behaviour {
                relay_client,
                relay: relay.into(),
                dcutr: dcutr::Behaviour::new(me),
                identify: identify::Behaviour::new(
                    identify::Config::new("/ipfs/id/1.0.0".into(), key.public())
                        .with_agent_version(format!("rustpeer/{}", env!("CARGO_PKG_VERSION"))),
                ),
                ping: ping::Behaviour::new(
                    ping::Config::new().with_interval(Duration::from_secs(1)),
                ),
                stream: libp2p_stream::Behaviour::new(),
                serve: crate::serve::Behaviour,
            }
        })
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

pub enum Cmd {
    Dial(Multiaddr),
    AddExternal(Multiaddr),
    Listen(Multiaddr),
    Close(ConnectionId),
}

#[derive(Debug)]
pub enum Ev {
    /// The listen addresses are up (dials from now on can reuse the listen port).
    Listening,
    /// identify reported an observed address (DCUtR now has it as a candidate).
    Candidate,
    Established {
        peer: PeerId,
        conn: ConnectionId,
        endpoint: ConnectedPoint,
    },
    Closed {
        conn: ConnectionId,
    },
    DialFailed {
        peer: Option<PeerId>,
        error: String,
    },
    Identified {
        peer: PeerId,
    },
    Ping {
        peer: PeerId,
        conn: ConnectionId,
        rtt: Duration,
    },
    HolepunchFailed {
        peer: PeerId,
        error: String,
    },
}

/// Whether we run the upgrade (Noise, then Yamux on top) as its initiator. rust-libp2p
/// applies one `Endpoint` to both (libp2p-core upgrade/apply.rs): a dial with
/// `role_override: Listener` — what DCUtR's B does — runs Noise as responder and Yamux as
/// server.
pub fn upgrade_initiator(endpoint: &ConnectedPoint) -> bool {
    matches!(
        endpoint,
        ConnectedPoint::Dialer {
            role_override: Endpoint::Dialer,
            ..
        }
    )
}

/// The remote and (when the library knows it) local address of a connection. rust-libp2p
/// does not expose the local address of a connection it dialed, so that is null.
pub fn addrs(endpoint: &ConnectedPoint) -> (Option<String>, String) {
    match endpoint {
        ConnectedPoint::Dialer { address, .. } => (None, address.to_string()),
        ConnectedPoint::Listener {
            local_addr,
            send_back_addr,
        } => (Some(local_addr.to_string()), send_back_addr.to_string()),
    }
}

fn unspecified(a: &Multiaddr) -> bool {
    a.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}

/// What we know about a peer we reached through a relay: which side of the circuit we are
/// and how many direct dials failed since (dcutr::Event does not carry the attempt number;
/// each DCUtR round is one direct dial per side, so attempt = failed direct dials + 1).
struct Relayed {
    we_are_a: bool,
    failed_dials: u32,
}

pub async fn drive(
    mut swarm: Swarm<Behaviour>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    evs: mpsc::UnboundedSender<Ev>,
    relay_mode: bool,
    quiet: bool,
) {
    let me = *swarm.local_peer_id();
    let mut listen_addrs: Vec<Multiaddr> = Vec::new();
    let mut listening_at: Option<tokio::time::Instant> = None;
    let mut listening_sent = false;
    let mut relayed: HashMap<PeerId, Relayed> = HashMap::new();
    let mut reserved_sent = false;
    loop {
        let report = async {
            match listening_at {
                Some(t) if !listening_sent => tokio::time::sleep_until(t).await,
                _ => futures::future::pending().await,
            }
        };
        tokio::select! {
            _ = report => {
                listening_sent = true;
                let addrs: Vec<String> = listen_addrs.iter().map(|a| a.to_string()).collect();
                emit(json!({"event":"listening","peer":me.to_string(),"addrs":addrs}));
                let _ = evs.send(Ev::Listening);
            }
            cmd = cmds.recv() => match cmd {
                None => return,
                Some(Cmd::Dial(a)) => if let Err(e) = swarm.dial(a.clone()) {
                    let _ = evs.send(Ev::DialFailed { peer: None, error: format!("dial {a}: {e}") });
                },
                Some(Cmd::Listen(a)) => if let Err(e) = swarm.listen_on(a.clone()) {
                    eprintln!("rustpeer: listen on {a}: {e}");
                    std::process::exit(1);
                },
                Some(Cmd::Close(c)) => { swarm.close_connection(c); }
                Some(Cmd::AddExternal(a)) => swarm.add_external_address(a),
            },
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::NewListenAddr { address, .. } => {
                    if address.iter().any(|p| p == Protocol::P2pCircuit) {
                        if !reserved_sent {
                            reserved_sent = true;
                            let mut a = address.clone();
                            if a.iter().last() != Some(Protocol::P2p(me)) { a.push(Protocol::P2p(me)); }
                            emit(json!({"event":"reserved","addr":a.to_string()}));
                        }
                    } else {
                        // A relay without --announce hands out its concrete listen addresses
                        // in reservations (rust-libp2p's relay uses the external addresses).
                        if relay_mode && !unspecified(&address) && swarm.external_addresses().next().is_none() {
                            swarm.add_external_address(address.clone());
                        }
                        listen_addrs.push(address);
                        listening_at.get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_millis(200));
                    }
                }
                SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, .. } => {
                    if endpoint.is_relayed() {
                        relayed.insert(peer_id, Relayed { we_are_a: endpoint.is_dialer(), failed_dials: 0 });
                    } else if let Some(r) = relayed.get(&peer_id) {
                        let (local, remote) = addrs(&endpoint);
                        let init = upgrade_initiator(&endpoint);
                        emit(json!({"event":"direct","peer":peer_id.to_string(),"local":local,"remote":remote,
                            "role": if r.we_are_a {"A"} else {"B"},"noise_initiator":init,"yamux_client":init,
                            "attempt": r.failed_dials + 1}));
                    }
                    let _ = evs.send(Ev::Established { peer: peer_id, conn: connection_id, endpoint });
                }
                SwarmEvent::NewExternalAddrCandidate { .. } => {
                    let _ = evs.send(Ev::Candidate);
                }
                SwarmEvent::ConnectionClosed { connection_id, .. } => {
                    let _ = evs.send(Ev::Closed { conn: connection_id });
                }
                SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                    if let Some(r) = peer_id.and_then(|p| relayed.get_mut(&p)) { r.failed_dials += 1; }
                    eprintln!("rustpeer: outgoing connection to {peer_id:?} failed: {error}");
                    let _ = evs.send(Ev::DialFailed { peer: peer_id, error: error.to_string() });
                }
                SwarmEvent::Behaviour(b) => on_behaviour(b, &evs, &relayed, quiet),
                _ => {}
            }
        }
    }
}

fn on_behaviour(
    ev: BehaviourEvent,
    evs: &mpsc::UnboundedSender<Ev>,
    relayed: &HashMap<PeerId, Relayed>,
    quiet: bool,
) {
    match ev {
        BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
            let protocols: Vec<String> = info.protocols.iter().map(|p| p.to_string()).collect();
            let listen: Vec<String> = info.listen_addrs.iter().map(|a| a.to_string()).collect();
            if !quiet {
                emit(
                    json!({"event":"identify","peer":peer_id.to_string(),"agent":info.agent_version,
                "protocol_version":info.protocol_version,"protocols":protocols,"listen_addrs":listen,
                "observed":info.observed_addr.to_string()}),
                );
            }
            let _ = evs.send(Ev::Identified { peer: peer_id });
        }
        BehaviourEvent::Ping(ping::Event {
            peer,
            connection,
            result: Ok(rtt),
        }) => {
            let _ = evs.send(Ev::Ping {
                peer,
                conn: connection,
                rtt,
            });
        }
        BehaviourEvent::Dcutr(dcutr::Event {
            remote_peer_id,
            result: Err(e),
        }) => {
            eprintln!("rustpeer: dcutr with {remote_peer_id}: {e:?}");
            let attempt = relayed.get(&remote_peer_id).map(|r| r.failed_dials);
            emit(
                json!({"event":"holepunch_failed","peer":remote_peer_id.to_string(),"error":e.to_string(),"attempt":attempt}),
            );
            let _ = evs.send(Ev::HolepunchFailed {
                peer: remote_peer_id,
                error: e.to_string(),
            });
        }
        BehaviourEvent::Relay(relay::Event::ReservationReqAccepted { src_peer_id, .. }) => {
            emit(json!({"event":"reservation","peer":src_peer_id.to_string()}));
        }
        BehaviourEvent::Relay(relay::Event::CircuitReqAccepted {
            src_peer_id,
            dst_peer_id,
        }) => {
            emit(
                json!({"event":"circuit","src":src_peer_id.to_string(),"dst":dst_peer_id.to_string()}),
            );
        }
        BehaviourEvent::Relay(e) => eprintln!("rustpeer: relay: {e:?}"),
        BehaviourEvent::RelayClient(e) => eprintln!("rustpeer: relay client: {e:?}"),
        BehaviourEvent::Dcutr(e) => eprintln!("rustpeer: dcutr: {e:?}"),
        _ => {}
    }
}

/// A started node: the Swarm task plus the handles a mode uses.
pub struct Node {
    external: Vec<Multiaddr>,
    pub cmds: mpsc::UnboundedSender<Cmd>,
    pub evs: mpsc::UnboundedReceiver<Ev>,
    pub control: libp2p_stream::Control,
}

/// `quiet`: no identify events (connrate makes hundreds of connections).
pub fn start(
    mut swarm: Swarm<Behaviour>,
    listen: &[Multiaddr],
    external: &[Multiaddr],
    relay_mode: bool,
    quiet: bool,
) -> Node {
    // The relay hands its --announce addresses out in reservations (rust-libp2p's relay
    // server uses the swarm's confirmed external addresses); peers confirm theirs later,
    // see Node::confirm_external.
    if relay_mode {
        for a in external {
            swarm.add_external_address(a.clone());
        }
    }
    let control = swarm.behaviour().stream.new_control();
    let (ctx, crx) = mpsc::unbounded_channel();
    let (etx, erx) = mpsc::unbounded_channel();
    for a in listen {
        let _ = ctx.send(Cmd::Listen(a.clone()));
    }
    tokio::spawn(drive(swarm, crx, etx, relay_mode, quiet));
    Node {
        external: external.to_vec(),
        cmds: ctx,
        evs: erx,
        control,
    }
}

impl Node {
    /// rust-libp2p confirms an external address only through AutoNAT, which these peers do
    /// not run; the lab address given with --external stands in for it (as libp2p/test-plans'
    /// hole-punch suite does), so identify advertises it. Called only after the relay's
    /// identify: the Swarm stops forwarding an observed address that is already confirmed
    /// to its behaviours (libp2p-swarm lib.rs, NewExternalAddrCandidate), and DCUtR takes the
    /// addresses it sends from exactly those candidates; confirmed first, DCUtR would send
    /// an empty address list (seen in the lab: NoAddresses).
    pub fn confirm_external(&self) {
        for a in &self.external {
            let _ = self.cmds.send(Cmd::AddExternal(a.clone()));
        }
    }

    pub async fn next(&mut self) -> Result<Ev, String> {
        self.evs
            .recv()
            .await
            .ok_or_else(|| "swarm task ended".to_string())
    }

    /// Waits for the first event `f` maps to Some, failing on dial errors `fail` accepts.
    pub async fn wait<T>(
        &mut self,
        what: &str,
        secs: u64,
        mut f: impl FnMut(&Ev) -> Option<Result<T, String>>,
    ) -> Result<T, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let ev = tokio::time::timeout_at(deadline, self.next())
                .await
                .map_err(|_| format!("timed out after {secs}s waiting for {what}"))??;
            if let Some(r) = f(&ev) {
                return r;
            }
        }
    }
}
