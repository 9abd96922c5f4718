//! The order of a rolling update, worked out before it starts: which replicas each turn
//! switches together, and which replicas of later turns it starts or creates ahead of theirs.
//!
//! Turn after turn switches a batch of `parallelism` replicas, in order. While a batch becomes
//! ready, up to `surge` replicas after it are started ahead (a turn starts those of its window
//! that no earlier turn started), and the replicas the next turn will start are created, not
//! started. So at most `parallelism + surge` new replicas run unswitched at once.

/// One turn of a rolling update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The replicas switched in this turn, together; those not started ahead start first.
    pub batch: Vec<u32>,
    /// Replicas of later batches started while this batch becomes ready.
    pub start_ahead: Vec<u32>,
    /// Replicas the next turn starts, created meanwhile.
    pub make_ahead: Vec<u32>,
}

/// The turns that roll `numbers` in batches of `parallelism`. With `ahead`, each turn starts up
/// to `surge` replicas beyond its batch and creates those the next turn starts; without, the
/// batches follow one another and nothing is made before its turn.
pub fn plan(numbers: &[u32], parallelism: usize, surge: usize, ahead: bool) -> Vec<Turn> {
    let parallelism = parallelism.max(1);
    let surge = if ahead { surge } else { 0 };
    // Every replica before `started` has been started, and every one before `made` created.
    let (mut started, mut made) = (0, 0);
    numbers
        .chunks(parallelism)
        .enumerate()
        .map(|(index, batch)| {
            let end = index * parallelism + batch.len();
            started = started.max(end);
            let window_end = end + surge;
            let start_ahead = between(numbers, started, window_end);
            started = started.max(window_end.min(numbers.len()));
            // The next turn starts the rest of its batch and its own window.
            let next_starts_end = end + parallelism + surge;
            let make_ahead = match ahead {
                true => between(numbers, started.max(made), next_starts_end),
                false => Vec::new(),
            };
            made = made.max(next_starts_end.min(numbers.len()));
            Turn {
                batch: batch.to_vec(),
                start_ahead,
                make_ahead,
            }
        })
        .collect()
}

/// The replicas from index `from` to `to`, as far as there are any.
fn between(numbers: &[u32], from: usize, to: usize) -> Vec<u32> {
    numbers
        .get(from..to.min(numbers.len()))
        .map(<[u32]>::to_vec)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(batch: &[u32], start_ahead: &[u32], make_ahead: &[u32]) -> Turn {
        Turn {
            batch: batch.to_vec(),
            start_ahead: start_ahead.to_vec(),
            make_ahead: make_ahead.to_vec(),
        }
    }

    #[test]
    fn without_a_surge_each_turn_creates_the_next_batch() {
        assert_eq!(
            plan(&[1, 2, 3, 4, 5], 2, 0, true),
            [
                turn(&[1, 2], &[], &[3, 4]),
                turn(&[3, 4], &[], &[5]),
                turn(&[5], &[], &[]),
            ]
        );
    }

    #[test]
    fn a_surge_starts_the_next_replicas_while_a_batch_becomes_ready() {
        assert_eq!(
            plan(&[1, 2, 3, 4, 5], 1, 1, true),
            [
                turn(&[1], &[2], &[3]),
                turn(&[2], &[3], &[4]),
                turn(&[3], &[4], &[5]),
                turn(&[4], &[5], &[]),
                turn(&[5], &[], &[]),
            ]
        );
        assert_eq!(
            plan(&[1, 2, 3, 4, 5, 6, 7], 2, 3, true),
            [
                turn(&[1, 2], &[3, 4, 5], &[6, 7]),
                turn(&[3, 4], &[6, 7], &[]),
                turn(&[5, 6], &[], &[]),
                turn(&[7], &[], &[]),
            ]
        );
    }

    #[test]
    fn a_surge_beyond_the_replicas_starts_them_all_at_once() {
        assert_eq!(
            plan(&[1, 2, 3], 1, 10, true),
            [
                turn(&[1], &[2, 3], &[]),
                turn(&[2], &[], &[]),
                turn(&[3], &[], &[])
            ]
        );
    }

    #[test]
    fn without_ahead_nothing_is_started_or_made_before_its_turn() {
        assert_eq!(
            plan(&[1, 2, 3], 2, 5, false),
            [turn(&[1, 2], &[], &[]), turn(&[3], &[], &[])]
        );
    }

    /// Whatever the numbers: every replica is switched once, in order; each is started exactly
    /// once, in its turn or ahead of it, and created at most once ahead; and never more than
    /// `parallelism + surge` replicas run started but unswitched.
    #[test]
    fn never_more_than_parallelism_plus_surge_run_unswitched() {
        for replicas in 0..12_u32 {
            let numbers: Vec<u32> = (1..=replicas).collect();
            for parallelism in 1..5 {
                for surge in 0..6 {
                    let turns = plan(&numbers, parallelism, surge, true);
                    let switched: Vec<u32> = turns.iter().flat_map(|turn| turn.batch.clone()).collect();
                    assert_eq!(switched, numbers);
                    let mut started: Vec<u32> = Vec::new();
                    let mut made: Vec<u32> = Vec::new();
                    for (index, turn) in turns.iter().enumerate() {
                        let in_its_turn = turn.batch.iter().filter(|number| !started.contains(number));
                        started.extend(in_its_turn.copied().collect::<Vec<_>>());
                        for number in &turn.start_ahead {
                            assert!(!started.contains(number), "{number} started twice");
                            assert!(!turn.batch.contains(number));
                            started.push(*number);
                        }
                        let switched_before: usize = turns[..index].iter().map(|turn| turn.batch.len()).sum();
                        let unswitched = started.len() - switched_before;
                        assert!(
                            unswitched <= parallelism + surge,
                            "{replicas} replicas, parallelism {parallelism}, surge {surge}: {unswitched} at once"
                        );
                        for number in &turn.make_ahead {
                            assert!(
                                !made.contains(number) && !started.contains(number),
                                "{number} made twice"
                            );
                            made.push(*number);
                        }
                        if let Some(next) = turns.get(index + 1) {
                            let next_starts = next
                                .batch
                                .iter()
                                .chain(&next.start_ahead)
                                .filter(|n| !started.contains(n));
                            for number in next_starts {
                                assert!(made.contains(number), "{number} is not made ahead of its start");
                            }
                        }
                    }
                    assert_eq!(started.len(), numbers.len());
                }
            }
        }
    }
}
