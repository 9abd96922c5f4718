//! The parallel graph walk (in the manner of Terraform's internal/dag): every
//! step whose prerequisites are done runs at once, up to a limit; a failure
//! skips everything downstream of it while unrelated branches go on; a stop
//! signal ends the starting of new steps and lets running ones finish.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use stack_provider::ProviderError;

/// How one step of a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Done,
    Failed(ProviderError),
    /// Not run: the step with this index failed first.
    Skipped {
        upstream: usize,
    },
    /// Not run: the walk was stopped before its turn.
    NotStarted,
}

/// A signal that, once fired, stays fired, so several walks can share it.
pub(crate) struct Stop<'a> {
    signal: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
    fired: bool,
}

impl<'a> Stop<'a> {
    pub(crate) fn new(signal: impl Future<Output = ()> + Send + 'a) -> Stop<'a> {
        Stop {
            signal: Box::pin(signal),
            fired: false,
        }
    }

    pub(crate) fn fired(&self) -> bool {
        self.fired
    }

    /// Resolves when the signal fires; never once it has.
    async fn wait(&mut self) {
        if self.fired {
            std::future::pending::<()>().await;
        }
        self.signal.as_mut().await;
        self.fired = true;
    }
}

/// Runs `run(i)` for every step `i`, each once all of `needs[i]` are done.
/// Returns how each step ended, by index. `needs` must not loop.
pub(crate) async fn walk<F, Fut>(
    needs: &[Vec<usize>],
    limit: usize,
    stop: &mut Stop<'_>,
    mut run: F,
) -> Vec<Step>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), ProviderError>>,
{
    let count = needs.len();
    let mut waiting: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); count];
    for (step, prerequisites) in needs.iter().enumerate() {
        for &prerequisite in prerequisites {
            dependents[prerequisite].push(step);
        }
    }
    let mut ended: Vec<Option<Step>> = vec![None; count];
    let mut ready: VecDeque<usize> = (0..count).filter(|&step| waiting[step] == 0).collect();
    let mut running = FuturesUnordered::new();

    loop {
        while !stop.fired() && running.len() < limit.max(1) {
            let Some(step) = ready.pop_front() else { break };
            let future = run(step);
            running.push(async move { (step, future.await) });
        }
        if running.is_empty() {
            break;
        }
        let finished = tokio::select! {
            finished = running.next() => finished,
            () = stop.wait() => continue,
        };
        let Some((step, result)) = finished else { break };
        match result {
            Ok(()) => {
                ended[step] = Some(Step::Done);
                for &dependent in &dependents[step] {
                    waiting[dependent] -= 1;
                    if waiting[dependent] == 0 && ended[dependent].is_none() {
                        ready.push_back(dependent);
                    }
                }
            }
            Err(error) => {
                ended[step] = Some(Step::Failed(error));
                skip_downstream(step, &dependents, &mut ended);
            }
        }
    }
    ended
        .into_iter()
        .map(|step| step.unwrap_or(Step::NotStarted))
        .collect()
}

/// Marks everything that depends on `failed`, directly or not, as skipped because of it.
fn skip_downstream(failed: usize, dependents: &[Vec<usize>], ended: &mut [Option<Step>]) {
    let mut queue: VecDeque<usize> = dependents[failed].iter().copied().collect();
    while let Some(step) = queue.pop_front() {
        if ended[step].is_none() {
            ended[step] = Some(Step::Skipped { upstream: failed });
            queue.extend(dependents[step].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    fn never() -> Stop<'static> {
        Stop::new(std::future::pending())
    }

    #[tokio::test]
    async fn runs_in_dependency_order_and_in_parallel() {
        // 0 and 1 are independent; 2 needs both.
        let needs = vec![vec![], vec![], vec![0, 1]];
        let log = Mutex::new(Vec::new());
        let steps = walk(&needs, 8, &mut never(), |step| {
            let log = &log;
            async move {
                log.lock().unwrap().push(format!("start {step}"));
                tokio::time::sleep(Duration::from_millis(30)).await;
                log.lock().unwrap().push(format!("end {step}"));
                Ok(())
            }
        })
        .await;
        assert_eq!(steps, vec![Step::Done; 3]);
        let log = log.into_inner().unwrap();
        assert_eq!(
            &log[..2],
            ["start 0", "start 1"],
            "independent steps overlap: {log:?}"
        );
        assert_eq!(&log[4..], ["start 2", "end 2"], "{log:?}");
    }

    #[tokio::test]
    async fn a_failure_skips_only_what_is_downstream() {
        // 0 fails; 1 needs 0; 2 needs 1; 3 is unrelated.
        let needs = vec![vec![], vec![0], vec![1], vec![]];
        let steps = walk(&needs, 8, &mut never(), |step| async move {
            if step == 0 {
                Err(ProviderError::new("boom"))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(
            steps,
            vec![
                Step::Failed(ProviderError::new("boom")),
                Step::Skipped { upstream: 0 },
                Step::Skipped { upstream: 0 },
                Step::Done,
            ]
        );
    }

    #[tokio::test]
    async fn the_limit_bounds_how_many_run_at_once() {
        let needs = vec![Vec::new(); 6];
        let running = Mutex::new((0usize, 0usize));
        walk(&needs, 2, &mut never(), |_| {
            let running = &running;
            async move {
                {
                    let mut counts = running.lock().unwrap();
                    counts.0 += 1;
                    counts.1 = counts.1.max(counts.0);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                running.lock().unwrap().0 -= 1;
                Ok(())
            }
        })
        .await;
        assert_eq!(running.into_inner().unwrap().1, 2);
    }

    #[tokio::test]
    async fn a_stop_lets_running_steps_finish_and_starts_nothing_new() {
        // 0 runs long; the stop fires while it runs; 1 needs 0.
        let needs = vec![vec![], vec![0]];
        let mut stop = Stop::new(tokio::time::sleep(Duration::from_millis(10)));
        let steps = walk(&needs, 8, &mut stop, |_| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(())
        })
        .await;
        assert_eq!(steps, vec![Step::Done, Step::NotStarted]);
        assert!(stop.fired());
    }
}
