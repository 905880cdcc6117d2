//! The fixed pool that verifies passwords: `concurrency` worker threads,
//! each with its own Argon2 memory blocks (allocated on its first job, the
//! first worker's at start-up for the dummy hash, and kept until the pool is
//! dropped), fed from one bounded queue.
//!
//! A job is accepted while the jobs waiting number fewer than the idle
//! workers plus `queue`; otherwise [`PasswordError::Busy`] at once. A job
//! still waiting after `queue_timeout` is taken out of the queue and also
//! answered `Busy`; a job a worker has started always gets its answer. A
//! job whose caller has gone away is skipped. Nothing else allocates per
//! job beyond the password and hash strings, so the pool's memory is
//! bounded by `concurrency` × [`MEMORY_COST`] plus `queue` small jobs.
//!
//! [`MEMORY_COST`]: super::MEMORY_COST

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use argon2::Block;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use tokio::sync::oneshot;

use super::{PasswordError, hash_into, new_blocks, verify_into};

/// The pool's size and its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Worker threads, each holding one job's memory.
    pub concurrency: usize,
    /// Jobs that may wait for a worker beyond the idle ones.
    pub queue: usize,
    /// How long a job may wait for a worker.
    pub queue_timeout: Duration,
}

/// Bounded, off-thread password verification (cheap to clone; the workers
/// stop when the last clone is dropped).
#[derive(Clone)]
pub struct Passwords {
    pool: Arc<Pool>,
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("limits", &self.pool.limits)
            .finish_non_exhaustive()
    }
}

/// Owns the workers: dropping it closes the queue.
struct Pool {
    shared: Arc<Shared>,
    limits: Limits,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    queue: usize,
}

struct State {
    jobs: VecDeque<Job>,
    idle: usize,
    next_id: u64,
    closed: bool,
}

struct Job {
    id: u64,
    password: String,
    hash: Arc<str>,
    reply: oneshot::Sender<bool>,
}

impl Passwords {
    /// Starts the workers and makes the dummy hash in the first worker's
    /// blocks.
    pub fn new(limits: Limits) -> Result<Self, PasswordError> {
        let concurrency = limits.concurrency.max(1);
        let mut random = [0u8; 32];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| PasswordError::Hash)?;
        let mut first = new_blocks();
        let dummy_hash = hash_into(&random, &mut first)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                idle: concurrency,
                next_id: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            queue: limits.queue,
        });
        // Built first, so that a failed spawn below stops the started workers.
        let pool = Arc::new(Pool {
            shared: shared.clone(),
            limits,
        });
        let mut first = Some(first);
        for i in 0..concurrency {
            let shared = shared.clone();
            let blocks = first.take();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&shared, blocks))
                .map_err(|_| PasswordError::Task)?;
        }
        Ok(Passwords {
            pool,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is no user (then the answer is always `false`).
    /// [`PasswordError::Busy`] when the queue is full or the wait for a
    /// worker timed out.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, PasswordError> {
        let known = hash.is_some();
        let hash: Arc<str> = hash.map_or_else(|| self.dummy_hash.clone(), Into::into);
        let (reply, mut answer) = oneshot::channel();
        let id = self.pool.shared.submit(password, hash, reply)?;
        let ok = match tokio::time::timeout(self.pool.limits.queue_timeout, &mut answer).await {
            Ok(answer) => answer.map_err(|_| PasswordError::Task)?,
            Err(_) if self.pool.shared.withdraw(id) => return Err(PasswordError::Busy),
            // A worker has it: the answer is at most one hash away.
            Err(_) => answer.await.map_err(|_| PasswordError::Task)?,
        };
        Ok(ok && known)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent under a panic (no half-done updates).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job, or refuses it when the queue is full.
    fn submit(
        &self,
        password: String,
        hash: Arc<str>,
        reply: oneshot::Sender<bool>,
    ) -> Result<u64, PasswordError> {
        let mut state = self.lock();
        if state.closed || state.jobs.len() >= state.idle + self.queue {
            return Err(PasswordError::Busy);
        }
        let id = state.next_id;
        state.next_id += 1;
        state.jobs.push_back(Job {
            id,
            password,
            hash,
            reply,
        });
        drop(state);
        self.ready.notify_one();
        Ok(id)
    }

    /// Takes job `id` out of the queue; `false` when a worker has it.
    fn withdraw(&self, id: u64) -> bool {
        let mut state = self.lock();
        match state.jobs.iter().position(|job| job.id == id) {
            Some(at) => state.jobs.remove(at).is_some(),
            None => false,
        }
    }

    /// The next job (the worker is then busy), or `None` once closed.
    fn next(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(job) = state.jobs.pop_front() {
                state.idle -= 1;
                return Some(job);
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn done(&self) {
        self.lock().idle += 1;
    }
}

/// One worker: its blocks are allocated once and reused for every job.
fn work(shared: &Shared, mut blocks: Option<Vec<Block>>) {
    while let Some(job) = shared.next() {
        if !job.reply.is_closed() {
            let blocks = blocks.get_or_insert_with(new_blocks);
            let ok = verify_into(job.password.as_bytes(), &job.hash, blocks);
            // The caller may have gone meanwhile; nobody to tell then.
            let _ = job.reply.send(ok);
        }
        shared.done();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};

    use super::*;
    use crate::password::hash_password;

    fn limits(concurrency: usize, queue: usize, timeout_ms: u64) -> Limits {
        Limits {
            concurrency,
            queue,
            queue_timeout: Duration::from_millis(timeout_ms),
        }
    }

    /// A hash that takes a worker long enough (a time cost of 40, hundreds
    /// of milliseconds) for the test to see it taken.
    fn slow_hash() -> String {
        let params = Params::new(19_456, 40, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(b"pw", b"0123456789abcdef")
            .unwrap()
            .to_string()
    }

    /// Waits (bounded) until every worker is busy and nothing waits.
    async fn until_all_busy(passwords: &Passwords) {
        for _ in 0..500 {
            {
                let state = passwords.pool.shared.lock();
                if state.idle == 0 && state.jobs.is_empty() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the worker never took the job");
    }

    #[tokio::test]
    async fn verifies_known_and_unknown_users() {
        let passwords = Passwords::new(limits(2, 4, 5_000)).unwrap();
        let phc = hash_password(b"pw").unwrap();
        let check =
            |pw: &str, hash: Option<&str>| passwords.verify(pw.to_owned(), hash.map(str::to_owned));
        assert!(check("pw", Some(&phc)).await.unwrap());
        assert!(!check("other", Some(&phc)).await.unwrap());
        assert!(!check("pw", None).await.unwrap());
        assert!(!check("pw", Some("garbage")).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_is_busy_at_once_and_a_long_wait_times_out() {
        let passwords = Passwords::new(limits(1, 1, 50)).unwrap();
        let slow = slow_hash();
        let running = tokio::spawn({
            let (passwords, slow) = (passwords.clone(), slow.clone());
            async move { passwords.verify("pw".into(), Some(slow)).await }
        });
        until_all_busy(&passwords).await;
        // One may wait; it times out after 50 ms, while the first still runs.
        let waiting = tokio::spawn({
            let passwords = passwords.clone();
            async move { passwords.verify("pw".into(), None).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        // The queue is full: refused at once.
        let full = passwords.verify("pw".into(), None).await;
        assert!(matches!(full, Err(PasswordError::Busy)), "{full:?}");
        let waited = waiting.await.unwrap();
        assert!(matches!(waited, Err(PasswordError::Busy)), "{waited:?}");
        // The job a worker had started is answered, late but right.
        assert!(running.await.unwrap().unwrap());
        // And the pool serves again.
        assert!(!passwords.verify("pw".into(), None).await.unwrap());
    }

    #[tokio::test]
    async fn dropping_the_last_handle_stops_the_workers() {
        let passwords = Passwords::new(limits(2, 0, 1_000)).unwrap();
        let shared = passwords.pool.shared.clone();
        drop(passwords);
        for _ in 0..500 {
            if Arc::strong_count(&shared) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("workers still running");
    }
}
