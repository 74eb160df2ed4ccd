//! A TCP relay between a server and its database that the test can cut
//! (every connection dropped, new ones refused, as when the database goes
//! down) and restore on the same port.

use std::{net::SocketAddr, sync::Arc};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::Mutex,
    task::JoinSet,
};

pub struct Relay {
    /// The relay's own address.
    pub address: SocketAddr,
    target: SocketAddr,
    running: Arc<Mutex<Option<JoinSet<()>>>>,
}

impl Relay {
    /// Relays connections to `target` from a free local port.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let relay = Self {
            address: listener.local_addr().expect("address"),
            target,
            running: Arc::new(Mutex::new(None)),
        };
        relay.serve(listener).await;
        relay
    }

    /// Drops every relayed connection and stops accepting.
    pub async fn cut(&self) {
        if let Some(mut tasks) = self.running.lock().await.take() {
            tasks.shutdown().await;
        }
    }

    /// Accepts again, on the same port.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.address).await.expect("rebind");
        self.serve(listener).await;
    }

    async fn serve(&self, listener: TcpListener) {
        let mut tasks = JoinSet::new();
        let target = self.target;
        let connections = Arc::clone(&self.running);
        tasks.spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Ok(mut outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                if let Some(tasks) = connections.lock().await.as_mut() {
                    tasks.spawn(async move {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    });
                }
            }
        });
        *self.running.lock().await = Some(tasks);
    }
}
