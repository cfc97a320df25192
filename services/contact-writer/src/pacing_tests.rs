use super::*;

/// Every request of `permit` refused, with a Retry-After of `retry_after_ms`.
fn refused_all(permit: &Permit, retry_after_ms: u64) -> Throttled {
    Throttled {
        refused: permit.requests,
        retry_after: Duration::from_millis(retry_after_ms),
    }
}

fn pacer(requests_per_window: u32, window_ms: u64) -> MailboxPacer {
    MailboxPacer::new(PacingConfig {
        requests_per_window,
        window: Duration::from_millis(window_ms),
        in_flight: 4,
    })
}

/// Sends `calls` batches of `size` one after the other, each answered after
/// `latency` without throttling.
async fn send_through(pacer: &MailboxPacer, calls: u32, size: u32, latency: Duration) {
    for _ in 0..calls {
        let permit = pacer.acquire(size).await;
        tokio::time::sleep(latency).await;
        pacer.finish(permit, None);
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_window_holds_the_next_batch_until_the_oldest_answer_ages_out() {
    let pacer = pacer(40, 1000);
    let started = Instant::now();
    for _ in 0..2 {
        let permit = pacer.acquire(20).await;
        pacer.finish(permit, None);
    }
    assert_eq!(started.elapsed(), Duration::ZERO);
    let permit = pacer.acquire(20).await;
    assert_eq!(started.elapsed(), Duration::from_millis(1000));
    pacer.finish(permit, None);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_sent_before_a_retry_after_and_nothing_later_than_it() {
    let pacer = pacer(10_000, 600_000);
    send_through(&pacer, 10, 20, Duration::from_millis(10)).await;
    let permit = pacer.acquire(20).await;
    let started = Instant::now();
    let refused = refused_all(&permit, 1500);
    pacer.finish(permit, Some(refused));
    let permit = pacer.acquire(20).await;
    assert_eq!(started.elapsed(), Duration::from_millis(1500));
    pacer.finish(permit, None);
}

#[tokio::test(start_paused = true)]
async fn one_throttling_event_cuts_the_rate_once_however_many_answers_report_it() {
    let pacer = pacer(10_000, 600_000);
    send_through(&pacer, 10, 5, Duration::from_millis(10)).await;
    // Four calls in flight together, every one answered 429.
    let mut permits = Vec::new();
    for _ in 0..4 {
        permits.push(pacer.acquire(1).await);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    for permit in permits {
        let refused = refused_all(&permit, 200);
        pacer.finish(permit, Some(refused));
    }
    assert_eq!(pacer.cuts(), 1);
    // A call sent after the Retry-After and throttled again is a new event.
    let permit = pacer.acquire(1).await;
    let refused = refused_all(&permit, 200);
    pacer.finish(permit, Some(refused));
    assert_eq!(pacer.cuts(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_learned_rate_is_half_the_rate_sent_at_over_the_retry_after() {
    let pacer = pacer(10_000, 600_000);
    // 20 requests every 10 ms: 2,000 per second.
    send_through(&pacer, 8, 20, Duration::from_millis(10)).await;
    let permit = pacer.acquire(20).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let refused = refused_all(&permit, 100);
    pacer.finish(permit, Some(refused));
    let learned = pacer.learned_limit().expect("a learned limit");
    assert_eq!(learned.horizon, Duration::from_millis(100));
    // 2,000 per second is 200 per 100 ms; half of it is 100.
    assert_eq!(learned.requests, 100);
}

#[tokio::test(start_paused = true)]
async fn one_refusal_among_twenty_cuts_the_rate_by_a_fortieth() {
    let pacer = pacer(10_000, 600_000);
    send_through(&pacer, 8, 20, Duration::from_millis(10)).await;
    let permit = pacer.acquire(20).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let throttled = Throttled {
        refused: 1,
        retry_after: Duration::from_millis(100),
    };
    pacer.finish(permit, Some(throttled));
    let learned = pacer.learned_limit().expect("a learned limit");
    // 200 per 100 ms, less a fortieth.
    assert_eq!(learned.requests, 195);
}

#[tokio::test(start_paused = true)]
async fn a_learned_limit_never_holds_a_call_longer_than_the_retry_after() {
    let pacer = pacer(1_000_000, 600_000);
    send_through(&pacer, 8, 20, Duration::from_millis(10)).await;
    let permit = pacer.acquire(20).await;
    let refused = refused_all(&permit, 300);
    pacer.finish(permit, Some(refused));
    let mut previous = Instant::now();
    for _ in 0..40 {
        let permit = pacer.acquire(20).await;
        let waited = previous.elapsed();
        assert!(
            waited <= Duration::from_millis(300),
            "a call waited {waited:?} after a Retry-After of 300 ms"
        );
        pacer.finish(permit, None);
        previous = Instant::now();
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_larger_than_the_learned_limit_is_spread_at_the_learned_rate() {
    let pacer = pacer(1_000_000, 600_000);
    // 20 requests every 100 ms: 200 per second.
    send_through(&pacer, 8, 20, Duration::from_millis(100)).await;
    let permit = pacer.acquire(20).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Refused whole with a Retry-After of 10 ms: 100 per second, 1 per 10 ms.
    let refused = refused_all(&permit, 10);
    let throttled_at = Instant::now();
    pacer.finish(permit, Some(refused));
    let learned = pacer.learned_limit().expect("a learned limit");
    assert_eq!(learned.requests, 1);
    // The next 20 requests are not sent as soon as the 10 ms Retry-After has
    // passed: 20 requests at 100 per second take 200 ms, so they wait for the
    // batch answered 100 ms before the refused one to leave those 200 ms
    // (by then the limit has doubled back), and never longer than 200 ms.
    let next = pacer.acquire(20).await;
    let waited = throttled_at.elapsed();
    assert!(
        waited >= Duration::from_millis(100) && waited <= Duration::from_millis(200),
        "waited {waited:?}"
    );
    pacer.finish(next, None);
}

#[tokio::test(start_paused = true)]
async fn a_learned_limit_recovers_as_fast_as_it_was_cut_and_then_is_gone() {
    // Configured: 1,200 per minute, 20 per second.
    let pacer = pacer(1_200, 60_000);
    send_through(&pacer, 8, 20, Duration::from_millis(50)).await;
    // Throttled six times in a row, each after waiting out its Retry-After.
    for _ in 0..6 {
        let permit = pacer.acquire(1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = refused_all(&permit, 100);
        pacer.finish(permit, Some(refused));
    }
    assert_eq!(pacer.cuts(), 6);
    let cut_to = pacer.learned_limit().expect("a learned limit");
    assert!(cut_to.requests <= 2, "{cut_to:?}");
    let recovering_since = Instant::now();
    while pacer.learned_limit().is_some() {
        send_through(&pacer, 1, 1, Duration::from_millis(5)).await;
        assert!(
            recovering_since.elapsed() <= Duration::from_secs(2),
            "the learned limit outlived the throttling: {:?}",
            pacer.learned_limit()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_retry_after_holds_the_mailbox_without_cutting_the_rate() {
    let pacer = pacer(10_000, 600_000);
    send_through(&pacer, 4, 20, Duration::from_millis(10)).await;
    let started = Instant::now();
    pacer.pause(Duration::from_millis(250));
    let permit = pacer.acquire(20).await;
    assert_eq!(started.elapsed(), Duration::from_millis(250));
    pacer.finish(permit, None);
    assert_eq!(pacer.cuts(), 0);
    assert_eq!(pacer.learned_limit(), None);
}

#[tokio::test(start_paused = true)]
async fn a_batch_takes_at_most_four_in_flight_slots() {
    let pacer = pacer(1000, 1000);
    let batch = pacer.acquire(20).await;
    let waiting = tokio::time::timeout(Duration::from_millis(50), pacer.acquire(1)).await;
    assert!(waiting.is_err(), "a single request waited for the batch");
    pacer.finish(batch, None);
    let single = pacer.acquire(1).await;
    pacer.finish(single, None);
}
