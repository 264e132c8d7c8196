//! Several machines: one process per machine, joined over Burn's own transport
//! (`burn-communication`'s WebSocket [`Protocol`], the layer Burn's remote backend and its
//! collective crate run on). Node 0 hosts the coordinator; every node, node 0 included,
//! connects to it as a client and sends its machine's weighted sum each round; the coordinator
//! adds the sums of all nodes and sends the total back (a centralized all-reduce).
//!
//! Why not `burn-collective`: its last release is 0.21, built on Burn 0.21 crates, and in the
//! Burn we pin (0.22.1) collective operations moved into the backends, where only the GPU
//! (CubeCL) backends implement `all_reduce`, within one process. So the reduction between
//! machines is ours, over Burn's transport.
//!
//! Failure: when a node disconnects without saying goodbye, the coordinator tells every other
//! node, whose all-reduce then fails with [`Error::Peer`]; the workers stop, and node 0's last
//! checkpoint is the one to resume from. A node that cannot reach the coordinator gives up after
//! the connect timeout with a message naming the address.

use super::group::NodeLink;
use crate::error::{Error, Result};
use burn_communication::websocket::{WebSocket, WsClientChannel, WsServer, WsServerSink};
use burn_communication::{
    Address, CommunicationChannel, Message, Protocol, ProtocolClient, ProtocolServer,
};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The WebSocket route of the all-reduce.
const ROUTE: &str = "inkling-allreduce";

const HELLO: u8 = 0;
const REDUCE: u8 = 1;
const RESULT: u8 = 2;
const FAILED: u8 = 3;
const BYE: u8 = 4;

/// One message: kind, node, round, weight, flags, then a payload (f32 values, or UTF-8 text
/// for [`FAILED`]).
#[derive(Debug, Clone, PartialEq)]
struct Packet {
    kind: u8,
    node: u32,
    round: u64,
    weight: f64,
    flags: u32,
    payload: Vec<u8>,
}

const HEADER: usize = 1 + 4 + 8 + 8 + 4;

impl Packet {
    fn new(kind: u8, node: usize, round: u64) -> Self {
        Self {
            kind,
            node: node as u32,
            round,
            weight: 0.0,
            flags: 0,
            payload: Vec::new(),
        }
    }
    fn with_values(mut self, v: &[f32]) -> Self {
        self.payload = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self
    }
    fn with_text(mut self, t: &str) -> Self {
        self.payload = t.as_bytes().to_vec();
        self
    }
    fn values(&self) -> Vec<f32> {
        self.payload
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
    fn encode(&self) -> Message {
        let mut b = Vec::with_capacity(HEADER + self.payload.len());
        b.push(self.kind);
        b.extend(self.node.to_le_bytes());
        b.extend(self.round.to_le_bytes());
        b.extend(self.weight.to_le_bytes());
        b.extend(self.flags.to_le_bytes());
        b.extend(&self.payload);
        Message::new(b.into())
    }
    fn decode(m: &Message) -> Option<Self> {
        let d = &m.data;
        if d.len() < HEADER {
            return None;
        }
        Some(Self {
            kind: d[0],
            node: u32::from_le_bytes(d[1..5].try_into().ok()?),
            round: u64::from_le_bytes(d[5..13].try_into().ok()?),
            weight: f64::from_le_bytes(d[13..21].try_into().ok()?),
            flags: u32::from_le_bytes(d[21..25].try_into().ok()?),
            payload: d[HEADER..].to_vec(),
        })
    }
}

enum Event {
    Joined(usize, WsServerSink),
    Packet(Packet),
    Gone(usize),
}

/// The coordinator, hosted by node 0: accepts `nodes` connections and adds their sums.
pub struct Coordinator {
    runtime: tokio::runtime::Runtime,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    aggregator: Option<tokio::task::JoinHandle<()>>,
}

impl Coordinator {
    /// Listens on `0.0.0.0:port` for `nodes` nodes.
    pub fn start(port: u16, nodes: usize) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start the network runtime: {e}")))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("0.0.0.0", port)))
            .map_err(|e| {
                Error::Invalid(format!("coordinator cannot listen on port {port}: {e}"))
            })?;
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let server = WsServer::new(port).route(ROUTE, move |chan| {
            let tx = tx.clone();
            async move { serve_node(chan, tx).await }
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(async move {
            let _ = server
                .serve_on(listener, async move {
                    let _ = stop_rx.await;
                })
                .await;
        });
        let aggregator = runtime.spawn(aggregate(rx, nodes));
        Ok(Self {
            runtime,
            shutdown: Some(stop_tx),
            aggregator: Some(aggregator),
        })
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        // Give the other nodes a moment to collect the last result and say goodbye.
        if let Some(a) = self.aggregator.take() {
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), a).await });
        }
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

async fn serve_node(
    chan: <<WebSocket as Protocol>::Server as ProtocolServer>::Channel,
    tx: mpsc::UnboundedSender<Event>,
) {
    let (sink, mut stream) = chan.split();
    let node = match stream.recv().await {
        Ok(Some(m)) => match Packet::decode(&m) {
            Some(p) if p.kind == HELLO => p.node as usize,
            _ => return,
        },
        _ => return,
    };
    if tx.send(Event::Joined(node, sink)).is_err() {
        return;
    }
    loop {
        match stream.recv().await {
            Ok(Some(m)) => match Packet::decode(&m) {
                Some(p) => {
                    if tx.send(Event::Packet(p)).is_err() {
                        return;
                    }
                }
                None => {
                    let _ = tx.send(Event::Gone(node));
                    return;
                }
            },
            _ => {
                let _ = tx.send(Event::Gone(node));
                return;
            }
        }
    }
}

/// Adds the nodes' sums round by round; reports the first node lost to all others.
async fn aggregate(mut rx: mpsc::UnboundedReceiver<Event>, nodes: usize) {
    let mut sinks: Vec<Option<WsServerSink>> = (0..nodes).map(|_| None).collect();
    let mut pending: Vec<Option<Packet>> = vec![None; nodes];
    let mut finished = vec![false; nodes];
    let mut failure: Option<String> = None;
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Joined(node, mut sink) => {
                if node >= nodes || sinks[node].is_some() {
                    let why = format!(
                        "node rank {node} is {} (ranks are 0..{nodes}, each used once)",
                        if node >= nodes {
                            "out of range"
                        } else {
                            "taken"
                        }
                    );
                    let _ = sink
                        .send(Packet::new(FAILED, node, 0).with_text(&why).encode())
                        .await;
                } else {
                    sinks[node] = Some(sink);
                }
            }
            Event::Packet(p) if p.kind == REDUCE && (p.node as usize) < nodes => {
                let node = p.node as usize;
                pending[node] = Some(p);
                if pending.iter().all(Option::is_some) {
                    let parts: Vec<Packet> = pending.iter_mut().filter_map(Option::take).collect();
                    let round = parts[0].round;
                    let len = parts[0].payload.len();
                    if parts
                        .iter()
                        .any(|p| p.payload.len() != len || p.round != round)
                    {
                        failure = Some("nodes disagree on the model layout or the round".into());
                        break;
                    }
                    let mut sum = vec![0f32; len / 4];
                    let (mut weight, mut flags) = (0.0, 0);
                    for p in &parts {
                        for (s, v) in sum.iter_mut().zip(p.values()) {
                            *s += v;
                        }
                        weight += p.weight;
                        flags |= p.flags;
                    }
                    let mut out = Packet::new(RESULT, 0, round).with_values(&sum);
                    out.weight = weight;
                    out.flags = flags;
                    let msg = out.encode();
                    for s in sinks.iter_mut().flatten() {
                        let _ = s.send(Message::new(msg.data.clone())).await;
                    }
                }
            }
            Event::Packet(p) if p.kind == BYE && (p.node as usize) < nodes => {
                finished[p.node as usize] = true;
                if finished.iter().all(|f| *f) {
                    break;
                }
            }
            Event::Packet(_) => {}
            Event::Gone(node) => {
                if node < nodes && !finished[node] {
                    failure = Some(format!("node {node} disconnected"));
                    break;
                }
            }
        }
    }
    if let Some(why) = failure {
        for (n, s) in sinks.iter_mut().enumerate() {
            if let Some(s) = s {
                if !finished[n] {
                    let _ = s
                        .send(Packet::new(FAILED, n, 0).with_text(&why).encode())
                        .await;
                }
                let _ = s.close().await;
            }
        }
    }
}

/// One node's connection to the coordinator.
pub struct NetLink {
    runtime: tokio::runtime::Runtime,
    channel: WsClientChannel,
    node: usize,
    round: u64,
    address: String,
    // Declared last: dropped after the goodbye, so the coordinator outlives this node's rounds.
    _coordinator: Option<Coordinator>,
}

impl NetLink {
    /// Joins the run as node `node` of `nodes`; node 0 also hosts the coordinator on the
    /// port of `coordinator` (`HOST:PORT`). Waits up to `timeout` for the coordinator.
    pub fn join(coordinator: &str, node: usize, nodes: usize, timeout: Duration) -> Result<Self> {
        if node >= nodes {
            return Err(Error::Invalid(format!(
                "--node-rank {node} must be below --nodes {nodes}"
            )));
        }
        let port = coordinator
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .ok_or_else(|| {
                Error::Invalid(format!("--coordinator {coordinator:?} must be HOST:PORT"))
            })?;
        let hosted = if node == 0 {
            Some(Coordinator::start(port, nodes)?)
        } else {
            None
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start the network runtime: {e}")))?;
        let address = Address::from(coordinator);
        let deadline = Instant::now() + timeout;
        let mut channel = loop {
            match runtime.block_on(<WebSocket as Protocol>::Client::connect(
                address.clone(),
                ROUTE,
            )) {
                Ok(c) => break c,
                Err(e) if Instant::now() >= deadline => {
                    return Err(Error::Peer(format!(
                        "cannot reach the coordinator at {coordinator} within {} s: {e:?}; start node 0 there (it hosts the coordinator)",
                        timeout.as_secs()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        runtime
            .block_on(channel.send(Packet::new(HELLO, node, nodes as u64).encode()))
            .map_err(|e| Error::Peer(format!("coordinator {coordinator}: {e:?}")))?;
        Ok(Self {
            runtime,
            channel,
            node,
            round: 0,
            address: coordinator.to_owned(),
            _coordinator: hosted,
        })
    }
}

impl NodeLink for NetLink {
    fn all_reduce(&mut self, sum: &mut [f32], weight: &mut f64, flags: &mut u32) -> Result<()> {
        let mut p = Packet::new(REDUCE, self.node, self.round).with_values(sum);
        p.weight = *weight;
        p.flags = *flags;
        let lost = |what: String| Error::Peer(format!("coordinator {}: {what}", self.address));
        self.runtime
            .block_on(self.channel.send(p.encode()))
            .map_err(|e| lost(format!("{e:?}")))?;
        let reply = self
            .runtime
            .block_on(self.channel.recv())
            .map_err(|e| lost(format!("{e:?}")))?
            .ok_or_else(|| lost("connection closed (node 0 stopped)".into()))?;
        let reply = Packet::decode(&reply).ok_or_else(|| lost("malformed message".into()))?;
        match reply.kind {
            RESULT if reply.round == self.round && reply.payload.len() == sum.len() * 4 => {
                sum.copy_from_slice(&reply.values());
                *weight = reply.weight;
                *flags = reply.flags;
                self.round += 1;
                Ok(())
            }
            FAILED => Err(Error::Peer(reply.text())),
            _ => Err(lost("unexpected reply".into())),
        }
    }

    fn finish(&mut self) {
        let bye = Packet::new(BYE, self.node, self.round).encode();
        let _ = self.runtime.block_on(self.channel.send(bye));
        let _ = self.runtime.block_on(self.channel.close());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn packets_round_trip() {
        let mut p = Packet::new(REDUCE, 3, 9).with_values(&[1.5, -2.0]);
        p.weight = 0.25;
        p.flags = 1;
        let back = Packet::decode(&p.encode()).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.values(), vec![1.5, -2.0]);
    }

    #[test]
    fn two_nodes_add_their_sums_over_loopback() {
        let addr = format!("127.0.0.1:{}", free_port());
        let a2 = addr.clone();
        let other = std::thread::spawn(move || {
            let mut l = NetLink::join(&a2, 1, 2, Duration::from_secs(20)).unwrap();
            let mut s = vec![1.0, 2.0];
            let (mut w, mut f) = (2.0, 1);
            l.all_reduce(&mut s, &mut w, &mut f).unwrap();
            l.finish();
            (s, w, f)
        });
        let mut l = NetLink::join(&addr, 0, 2, Duration::from_secs(20)).unwrap();
        let mut s = vec![10.0, 20.0];
        let (mut w, mut f) = (1.0, 0);
        l.all_reduce(&mut s, &mut w, &mut f).unwrap();
        assert_eq!((s.clone(), w, f), (vec![11.0, 22.0], 3.0, 1));
        assert_eq!(other.join().unwrap(), (s, w, f));
        l.finish();
    }

    #[test]
    fn a_node_that_disconnects_fails_the_others_cleanly() {
        let addr = format!("127.0.0.1:{}", free_port());
        let mut l = NetLink::join(&addr, 0, 2, Duration::from_secs(20)).unwrap();
        let a2 = addr.clone();
        std::thread::spawn(move || {
            let l = NetLink::join(&a2, 1, 2, Duration::from_secs(20)).unwrap();
            drop(l); // gone without a goodbye
        })
        .join()
        .unwrap();
        let (mut w, mut f) = (1.0, 0);
        let err = l.all_reduce(&mut [1.0], &mut w, &mut f).unwrap_err();
        assert!(err.to_string().contains("node 1 disconnected"), "{err}");
    }

    #[test]
    fn a_missing_coordinator_is_a_clear_error() {
        let addr = format!("127.0.0.1:{}", free_port());
        let err = match NetLink::join(&addr, 1, 2, Duration::from_millis(600)) {
            Err(e) => e,
            Ok(_) => panic!("joined a coordinator that does not exist"),
        };
        assert!(
            err.to_string().contains("cannot reach the coordinator"),
            "{err}"
        );
    }
}
