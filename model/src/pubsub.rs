//! The pub/sub broker: who listens to which channel or pattern. Delivery is at most once: a
//! message goes to the connections subscribed at the instant of PUBLISH, and nowhere else.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use tokio::sync::mpsc::UnboundedSender;

use crate::glob;
use crate::reply::Reply;

#[derive(Debug)]
struct Subscriber {
    push: UnboundedSender<Reply>,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
}

/// Channel and pattern subscriptions of every connection.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: BTreeMap<Bytes, BTreeSet<u64>>,
    patterns: BTreeMap<Bytes, BTreeSet<u64>>,
    subscribers: BTreeMap<u64, Subscriber>,
}

/// Channel or pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / UNSUBSCRIBE.
    Channel,
    /// PSUBSCRIBE / PUNSUBSCRIBE.
    Pattern,
}

impl PubSub {
    /// Channels plus patterns `client` is subscribed to.
    pub fn subscription_count(&self, client: u64) -> usize {
        self.subscribers.get(&client).map_or(0, |s| s.channels.len() + s.patterns.len())
    }

    /// Subscribes `client`; returns its subscription count afterwards.
    pub fn subscribe(&mut self, client: u64, push: &UnboundedSender<Reply>, kind: Kind, name: Bytes) -> usize {
        let subscriber = self.subscribers.entry(client).or_insert_with(|| Subscriber {
            push: push.clone(),
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
        });
        let (own, index) = match kind {
            Kind::Channel => (&mut subscriber.channels, &mut self.channels),
            Kind::Pattern => (&mut subscriber.patterns, &mut self.patterns),
        };
        if own.insert(name.clone()) {
            index.entry(name).or_default().insert(client);
        }
        self.subscription_count(client)
    }

    /// Unsubscribes `client` from `name`; returns its subscription count afterwards.
    pub fn unsubscribe(&mut self, client: u64, kind: Kind, name: &Bytes) -> usize {
        if let Some(subscriber) = self.subscribers.get_mut(&client) {
            let (own, index) = match kind {
                Kind::Channel => (&mut subscriber.channels, &mut self.channels),
                Kind::Pattern => (&mut subscriber.patterns, &mut self.patterns),
            };
            if own.remove(name) {
                if let Some(clients) = index.get_mut(name) {
                    clients.remove(&client);
                    if clients.is_empty() {
                        index.remove(name);
                    }
                }
            }
        }
        let count = self.subscription_count(client);
        if count == 0 {
            self.subscribers.remove(&client);
        }
        count
    }

    /// What `client` is subscribed to, in byte order.
    pub fn subscriptions(&self, client: u64, kind: Kind) -> Vec<Bytes> {
        self.subscribers
            .get(&client)
            .map(|s| match kind {
                Kind::Channel => s.channels.iter().cloned().collect(),
                Kind::Pattern => s.patterns.iter().cloned().collect(),
            })
            .unwrap_or_default()
    }

    /// Channels with at least one subscriber matching `pattern` (all when `None`).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels.keys().filter(|c| pattern.is_none_or(|p| glob::matches(p, c))).cloned().collect()
    }

    /// Subscribers of `channel` (patterns not counted).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.get(channel).map_or(0, BTreeSet::len)
    }

    /// Distinct patterns subscribed to.
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }

    /// Where a subscribed client's messages go (CLIENT TRACKING REDIRECT).
    pub fn push_of(&self, client: u64) -> Option<UnboundedSender<Reply>> {
        self.subscribers.get(&client).map(|s| s.push.clone())
    }

    /// Forgets a disconnected client.
    pub fn remove_client(&mut self, client: u64) {
        for kind in [Kind::Channel, Kind::Pattern] {
            for name in self.subscriptions(client, kind) {
                self.unsubscribe(client, kind, &name);
            }
        }
    }

    /// Forgets every subscription (a restart).
    pub fn clear(&mut self) {
        *self = PubSub::default();
    }

    /// Delivers `message` to the channel's subscribers, then to each matching pattern's;
    /// returns how many deliveries were made (Redis's PUBLISH reply).
    pub fn publish(&self, channel: &Bytes, message: &Bytes) -> usize {
        let mut delivered = 0;
        for client in self.channels.get(channel).into_iter().flatten() {
            let push = vec![Reply::bulk("message"), Reply::Bulk(channel.clone()), Reply::Bulk(message.clone())];
            delivered += self.deliver(*client, push);
        }
        for (pattern, clients) in &self.patterns {
            if !glob::matches(pattern, channel) {
                continue;
            }
            for client in clients {
                let push = vec![
                    Reply::bulk("pmessage"),
                    Reply::Bulk(pattern.clone()),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ];
                delivered += self.deliver(*client, push);
            }
        }
        delivered
    }

    fn deliver(&self, client: u64, push: Vec<Reply>) -> usize {
        // A closed receiver is a connection already gone: the message is lost, as in Redis.
        let _ = self.subscribers[&client].push.send(Reply::Push(push));
        1
    }
}
