//! Which checkpoints to delete: a pure policy, so it is trivially testable.

/// Keep the newest `keep_last` checkpoints and the best one by metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// Newest checkpoints kept (>= 1).
    pub keep_last: usize,
    /// Also keep the checkpoint with the best metric.
    pub keep_best: bool,
    /// The best metric is the largest (true) or the smallest (false).
    pub maximize: bool,
}

/// Given `(name, global_step, metric)` for every checkpoint, returns the names to delete.
pub fn select_for_deletion(all: &[(String, usize, Option<f64>)], policy: Retention) -> Vec<String> {
    let mut by_step: Vec<&(String, usize, Option<f64>)> = all.iter().collect();
    by_step.sort_by_key(|c| std::cmp::Reverse(c.1));
    let best = policy
        .keep_best
        .then(|| {
            all.iter()
                .filter_map(|(n, s, m)| m.map(|m| (n, *s, m)))
                .max_by(|a, b| {
                    let by_metric = a.2.total_cmp(&b.2);
                    let by_metric = if policy.maximize {
                        by_metric
                    } else {
                        by_metric.reverse()
                    };
                    by_metric.then(a.1.cmp(&b.1))
                })
                .map(|(n, _, _)| n.clone())
        })
        .flatten();
    by_step
        .into_iter()
        .skip(policy.keep_last.max(1))
        .filter(|(n, _, _)| Some(n) != best.as_ref())
        .map(|(n, _, _)| n.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ck(name: &str, step: usize, metric: Option<f64>) -> (String, usize, Option<f64>) {
        (name.to_string(), step, metric)
    }

    #[test]
    fn keeps_the_newest_k() {
        let all = vec![ck("a", 1, None), ck("b", 2, None), ck("c", 3, None)];
        let gone = select_for_deletion(
            &all,
            Retention {
                keep_last: 2,
                keep_best: false,
                maximize: true,
            },
        );
        assert_eq!(gone, vec!["a".to_string()]);
    }

    #[test]
    fn keeps_the_best_even_when_old() {
        let all = vec![
            ck("a", 1, Some(0.9)),
            ck("b", 2, Some(0.5)),
            ck("c", 3, Some(0.6)),
        ];
        let gone = select_for_deletion(
            &all,
            Retention {
                keep_last: 1,
                keep_best: true,
                maximize: true,
            },
        );
        assert_eq!(gone, vec!["b".to_string()]);
    }

    #[test]
    fn keeps_the_smallest_when_minimizing() {
        let all = vec![
            ck("a", 1, Some(0.9)),
            ck("b", 2, Some(0.5)),
            ck("c", 3, Some(0.6)),
        ];
        let policy = Retention {
            keep_last: 1,
            keep_best: true,
            maximize: false,
        };
        assert_eq!(select_for_deletion(&all, policy), vec!["a".to_string()]);
    }

    #[test]
    fn never_deletes_the_newest() {
        let all = vec![ck("a", 1, None)];
        assert!(
            select_for_deletion(
                &all,
                Retention {
                    keep_last: 0,
                    keep_best: true,
                    maximize: true,
                }
            )
            .is_empty()
        );
    }
}
