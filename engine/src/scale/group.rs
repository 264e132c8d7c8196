//! The workers of one machine (threads, each with its own model replica) and their weighted
//! all-reduce. The last worker to arrive finishes the round: it adds the other machines'
//! sums through the [`NodeLink`] when there are several machines, then divides by the total
//! weight, so every worker reads the same weighted mean.
//!
//! A worker that fails marks the group failed; everyone waiting, and everyone arriving later,
//! gets [`Error::Peer`] instead of blocking for ever.

use crate::error::{Error, Result};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Flag: stop after this round (cancel, early stop); OR-ed over all workers.
pub const STOP: u32 = 1;

/// The machine-to-machine part of an all-reduce (summing, not averaging).
pub trait NodeLink: Send {
    /// Replaces `sum`, `weight` and `flags` by their totals over all machines (flags OR-ed).
    fn all_reduce(&mut self, sum: &mut [f32], weight: &mut f64, flags: &mut u32) -> Result<()>;
    /// Tells the other machines this one finished normally.
    fn finish(&mut self);
}

/// What a finished round gives every worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reduced {
    /// Total weight over all workers (0: nobody contributed).
    pub total_weight: f64,
    /// OR of all flags.
    pub flags: u32,
}

struct State {
    round: u64,
    arrived: usize,
    sum: Vec<f32>,
    weight: f64,
    flags: u32,
    result: Arc<Vec<f32>>,
    reduced: Reduced,
    failed: Option<String>,
}

/// The local workers' meeting point.
pub struct LocalGroup {
    size: usize,
    state: Mutex<State>,
    turn: Condvar,
    link: Mutex<Option<Box<dyn NodeLink>>>,
}

impl LocalGroup {
    /// A group of `size` workers; `link` joins it to other machines.
    pub fn new(size: usize, link: Option<Box<dyn NodeLink>>) -> Self {
        Self {
            size: size.max(1),
            state: Mutex::new(State {
                round: 0,
                arrived: 0,
                sum: Vec::new(),
                weight: 0.0,
                flags: 0,
                result: Arc::new(Vec::new()),
                reduced: Reduced {
                    total_weight: 0.0,
                    flags: 0,
                },
                failed: None,
            }),
            turn: Condvar::new(),
            link: Mutex::new(link),
        }
    }

    /// Workers in this group.
    pub fn size(&self) -> usize {
        self.size
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Weighted mean of `buf` over all workers (in place). A weight of zero contributes
    /// nothing; when every weight is zero `buf` becomes zeros and `total_weight` is 0.
    pub fn all_reduce(&self, buf: &mut [f32], weight: f64, flags: u32) -> Result<Reduced> {
        let mut st = self.lock();
        if let Some(why) = &st.failed {
            return Err(Error::Peer(why.clone()));
        }
        let round = st.round;
        if st.arrived == 0 {
            st.sum.clear();
            st.sum.resize(buf.len(), 0.0);
            st.weight = 0.0;
            st.flags = 0;
        }
        if st.sum.len() != buf.len() {
            let why = format!(
                "workers disagree on the model layout ({} vs {} values)",
                st.sum.len(),
                buf.len()
            );
            st.failed = Some(why.clone());
            self.turn.notify_all();
            return Err(Error::Peer(why));
        }
        if weight > 0.0 {
            let w = weight as f32;
            for (s, v) in st.sum.iter_mut().zip(buf.iter()) {
                *s += w * v;
            }
            st.weight += weight;
        }
        st.flags |= flags;
        st.arrived += 1;
        if st.arrived == self.size {
            let mut sum = std::mem::take(&mut st.sum);
            let (mut weight, mut flags) = (st.weight, st.flags);
            let linked = {
                let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
                link.as_mut()
                    .map(|l| l.all_reduce(&mut sum, &mut weight, &mut flags))
            };
            if let Some(Err(e)) = linked {
                st.failed = Some(e.to_string());
                self.turn.notify_all();
                return Err(e);
            }
            if weight > 0.0 {
                let inv = (1.0 / weight) as f32;
                sum.iter_mut().for_each(|s| *s *= inv);
            }
            buf.copy_from_slice(&sum);
            st.result = Arc::new(sum);
            st.reduced = Reduced {
                total_weight: weight,
                flags,
            };
            st.arrived = 0;
            st.round += 1;
            self.turn.notify_all();
            return Ok(st.reduced);
        }
        while st.round == round && st.failed.is_none() {
            st = self.turn.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        if st.round == round {
            return Err(Error::Peer(st.failed.clone().unwrap_or_default()));
        }
        buf.copy_from_slice(&st.result);
        Ok(st.reduced)
    }

    /// Marks the group failed (a worker stopped with an error): every pending and later
    /// all-reduce returns an error.
    pub fn fail(&self, why: &str) {
        let mut st = self.lock();
        if st.failed.is_none() {
            st.failed = Some(why.to_owned());
        }
        self.turn.notify_all();
    }

    /// Tells the other machines this one is done (call once, after the last round).
    pub fn finish(&self) {
        if let Some(l) = self.link.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            l.finish();
        }
    }
}

/// Marks the group failed when dropped armed (a worker that returns early or panics).
pub struct FailGuard<'a> {
    group: &'a LocalGroup,
    worker: usize,
    armed: bool,
}

impl<'a> FailGuard<'a> {
    /// Arms a guard for `worker`.
    pub fn new(group: &'a LocalGroup, worker: usize) -> Self {
        Self {
            group,
            worker,
            armed: true,
        }
    }
    /// The worker returned `result`: a finished or cancelled run leaves the group alone, an
    /// error fails it (so the other workers stop).
    pub fn settle<T>(mut self, result: &Result<T>) {
        if let Err(e) = result
            && !matches!(e, Error::Cancelled(_))
        {
            self.group
                .fail(&format!("worker {} stopped: {e}", self.worker));
        }
        self.armed = false;
    }
}

impl Drop for FailGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.group
                .fail(&format!("worker {} stopped unexpectedly", self.worker));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn three_threads_get_the_weighted_mean_and_or_of_flags() {
        let g = LocalGroup::new(3, None);
        let out: Vec<(Vec<f32>, Reduced)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|i| {
                    let g = &g;
                    s.spawn(move || {
                        let mut results = Vec::new();
                        for round in 0..4 {
                            let mut buf = vec![i as f32, 10.0 * round as f32];
                            let flags = if i == 2 && round == 3 { STOP } else { 0 };
                            let r = g.all_reduce(&mut buf, (i + 1) as f64, flags).unwrap();
                            results.push((buf, r));
                        }
                        results
                    })
                })
                .collect();
            hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        for (k, (buf, r)) in out.iter().enumerate() {
            let round = k % 4;
            // (0*1 + 1*2 + 2*3) / 6
            assert!((buf[0] - 8.0 / 6.0).abs() < 1e-6, "{buf:?}");
            assert!((buf[1] - 10.0 * round as f32).abs() < 1e-5);
            assert_eq!(r.total_weight, 6.0);
            assert_eq!(r.flags, if round == 3 { STOP } else { 0 });
        }
    }

    #[test]
    fn zero_weights_broadcast_the_one_that_is_not() {
        let g = LocalGroup::new(2, None);
        std::thread::scope(|s| {
            let a = s.spawn(|| {
                let mut b = vec![7.0, f32::NAN];
                g.all_reduce(&mut b, 0.0, 0).unwrap();
                b
            });
            let mut b = vec![1.0, 2.0];
            g.all_reduce(&mut b, 1.0, 0).unwrap();
            assert_eq!(a.join().unwrap(), vec![1.0, 2.0]);
        });
    }

    #[test]
    fn a_failed_worker_releases_the_waiting_ones() {
        let g = LocalGroup::new(2, None);
        std::thread::scope(|s| {
            let waiting = s.spawn(|| g.all_reduce(&mut [1.0], 1.0, 0));
            std::thread::sleep(std::time::Duration::from_millis(50));
            let guard = FailGuard::new(&g, 1);
            drop(guard);
            let err = waiting.join().unwrap().unwrap_err();
            assert!(err.to_string().contains("worker 1 stopped"), "{err}");
        });
        assert!(g.all_reduce(&mut [1.0], 1.0, 0).is_err());
    }
}
