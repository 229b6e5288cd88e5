//! Frames waiting to be written to one connection, from the desk to the
//! connection's task.
//!
//! A queue that holds memory only while frames wait: tokio's bounded channel
//! allocates a block of 32 slots and its cache-padded state when it is made,
//! close to a kilobyte for every idle visitor (docs/benchmarks.md). Frames
//! travel boxed, so a queued frame costs a pointer in the queue.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::Notify;

/// How many frames may wait for a slow client before it is dropped.
pub const OUTBOX_CAPACITY: usize = 64;

/// The desk's end of a connection's queue.
pub struct Outbox<T>(Arc<Shared<T>>);

/// The connection's end: the frames to write, in order.
pub struct OutboxReceiver<T>(Arc<Shared<T>>);

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    /// One waiter at most: the connection's task.
    ready: Notify,
}

struct Queue<T> {
    frames: VecDeque<Box<T>>,
    /// `Outbox` handles alive; at none, the receiver ends once drained.
    senders: usize,
    /// False once the connection's end is dropped: sending fails.
    receiver: bool,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        // A queue of owned frames: still consistent after a panic elsewhere.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Outbox<T> {
    /// A new, empty queue; allocates nothing for frames until one is sent.
    pub fn channel() -> (Self, OutboxReceiver<T>) {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                frames: VecDeque::new(),
                senders: 1,
                receiver: true,
            }),
            ready: Notify::new(),
        });
        (Self(shared.clone()), OutboxReceiver(shared))
    }

    /// Queues a frame; false when the client is gone or too slow.
    pub(super) fn send(&self, frame: T) -> bool {
        let mut queue = self.0.lock();
        if !queue.receiver || queue.frames.len() >= OUTBOX_CAPACITY {
            return false;
        }
        queue.frames.push_back(Box::new(frame));
        drop(queue);
        self.0.ready.notify_one();
        true
    }
}

impl<T> Clone for Outbox<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Self(self.0.clone())
    }
}

impl<T> Drop for Outbox<T> {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.senders -= 1;
        let last = queue.senders == 0;
        drop(queue);
        if last {
            self.0.ready.notify_one();
        }
    }
}

impl<T> std::fmt::Debug for Outbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("queued", &self.0.lock().frames.len())
            .finish()
    }
}

impl<T> OutboxReceiver<T> {
    /// The next frame; `None` once the desk let the connection go and every
    /// frame queued before was taken. Cancel safe: a frame is taken only
    /// when it is returned.
    pub async fn recv(&mut self) -> Option<Box<T>> {
        loop {
            {
                let mut queue = self.0.lock();
                if let Some(frame) = queue.frames.pop_front() {
                    if queue.frames.is_empty() {
                        // Give the queue's memory back while the connection idles.
                        queue.frames = VecDeque::new();
                    }
                    return Some(frame);
                }
                if queue.senders == 0 {
                    return None;
                }
            }
            // A frame sent since the check left a permit: this returns at once.
            self.0.ready.notified().await;
        }
    }
}

impl<T> Drop for OutboxReceiver<T> {
    fn drop(&mut self) {
        let mut queue = self.0.lock();
        queue.receiver = false;
        queue.frames = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_arrive_in_order_then_none_when_the_desk_lets_go() {
        let (outbox, mut rx) = Outbox::channel();
        let second = outbox.clone();
        assert!(outbox.send(1));
        assert!(second.send(2));
        drop(outbox);
        assert_eq!(rx.recv().await.map(|b| *b), Some(1));
        drop(second);
        assert_eq!(rx.recv().await.map(|b| *b), Some(2));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_full_queue_or_a_gone_receiver_refuses() {
        let (outbox, rx) = Outbox::channel();
        for i in 0..OUTBOX_CAPACITY {
            assert!(outbox.send(i));
        }
        assert!(!outbox.send(OUTBOX_CAPACITY));
        drop(rx);
        assert!(!outbox.send(0));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_frame() {
        let (outbox, mut rx) = Outbox::channel();
        let waiting = tokio::spawn(async move { rx.recv().await.map(|b| *b) });
        tokio::task::yield_now().await;
        assert!(outbox.send(7));
        assert_eq!(waiting.await.ok().flatten(), Some(7));
    }
}
