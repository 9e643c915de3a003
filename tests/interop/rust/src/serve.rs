//! The responder side of /echo/1.0.0 and /perf/1.0.0: a NetworkBehaviour whose handler
//! starts a task per inbound stream as soon as multistream-select has negotiated it.
//!
//! Not libp2p-stream's `Control::accept`: it hands inbound streams over a channel of
//! capacity 0 per protocol and drops every stream that arrives while the previous one has
//! not been taken yet, so 64 streams opened at once (the interop test) lose most of them.
use crate::wire;
use libp2p::core::transport::PortUse;
use libp2p::core::upgrade::{InboundUpgrade, OutboundUpgrade, UpgradeInfo};
use libp2p::core::{Endpoint, Multiaddr};
use libp2p::swarm::handler::{ConnectionEvent, FullyNegotiatedInbound};
use libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
    NetworkBehaviour, SubstreamProtocol, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{PeerId, Stream, StreamProtocol};
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

pub struct Upgrade;

impl UpgradeInfo for Upgrade {
    type Info = StreamProtocol;
    type InfoIter = std::array::IntoIter<StreamProtocol, 2>;
    fn protocol_info(&self) -> Self::InfoIter {
        [wire::ECHO, wire::PERF].into_iter()
    }
}

impl InboundUpgrade<Stream> for Upgrade {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = Ready<Result<Self::Output, Infallible>>;
    fn upgrade_inbound(self, s: Stream, info: StreamProtocol) -> Self::Future {
        ready(Ok((s, info)))
    }
}

impl OutboundUpgrade<Stream> for Upgrade {
    type Output = Infallible;
    type Error = Infallible;
    type Future = Ready<Result<Infallible, Infallible>>;
    fn upgrade_outbound(self, _: Stream, _: StreamProtocol) -> Self::Future {
        unreachable!("the serving handler never opens streams")
    }
}

pub struct Handler {
    peer: PeerId,
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = Upgrade;
    type OutboundProtocol = Upgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Upgrade> {
        SubstreamProtocol::new(Upgrade, ())
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Upgrade, (), Infallible>> {
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, e: Infallible) {
        match e {}
    }

    fn on_connection_event(&mut self, event: ConnectionEvent<Upgrade, Upgrade>) {
        if let ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
            protocol: (s, p),
            ..
        }) = event
        {
            let peer = self.peer;
            tokio::spawn(async move {
                let r = if p == wire::PERF {
                    wire::perf_serve(s).await
                } else {
                    wire::echo_serve(s).await
                };
                if let Err(e) = r {
                    eprintln!("rustpeer: {p} stream from {peer}: {e}");
                }
            });
        }
    }
}

#[derive(Default)]
pub struct Behaviour;

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler { peer })
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler { peer })
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        e: THandlerOutEvent<Self>,
    ) {
        match e {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Infallible, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}
