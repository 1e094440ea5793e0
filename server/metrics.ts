/** Prometheus text exposition of what the server did: requests, latency, forward passes, queue and models. */

export const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  forwardPasses = 0;

  /** One finished request: its route, status and seconds taken. */
  observe(route: string, status: number, seconds: number): void {
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let h = this.latency.get(route);
    if (!h) this.latency.set(route, (h = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 }));
    LATENCY_BUCKETS.forEach((b, i) => seconds <= b && h.counts[i]++);
    h.sum += seconds;
    h.count++;
  }

  text(gauges: { modelsLoaded: number; inFlight: number; queued: number }): string {
    const lines = [
      '# HELP interp_requests_total Requests answered, by route and status.',
      '# TYPE interp_requests_total counter',
      ...[...this.requests].map(([k, v]) => `interp_requests_total{${k}} ${v}`),
      '# HELP interp_request_duration_seconds Time from request to answer.',
      '# TYPE interp_request_duration_seconds histogram',
    ];
    for (const [route, h] of this.latency) {
      LATENCY_BUCKETS.forEach((b, i) =>
        lines.push(`interp_request_duration_seconds_bucket{route="${route}",le="${b}"} ${h.counts[i]}`),
      );
      lines.push(`interp_request_duration_seconds_bucket{route="${route}",le="+Inf"} ${h.count}`);
      lines.push(`interp_request_duration_seconds_sum{route="${route}"} ${h.sum}`);
      lines.push(`interp_request_duration_seconds_count{route="${route}"} ${h.count}`);
    }
    lines.push(
      '# HELP interp_forward_passes_total Forward passes run for requests.',
      '# TYPE interp_forward_passes_total counter',
      `interp_forward_passes_total ${this.forwardPasses}`,
      '# HELP interp_models_loaded Models held in memory.',
      '# TYPE interp_models_loaded gauge',
      `interp_models_loaded ${gauges.modelsLoaded}`,
      '# HELP interp_requests_in_flight Requests being computed.',
      '# TYPE interp_requests_in_flight gauge',
      `interp_requests_in_flight ${gauges.inFlight}`,
      '# HELP interp_requests_queued Requests waiting for a slot.',
      '# TYPE interp_requests_queued gauge',
      `interp_requests_queued ${gauges.queued}`,
    );
    return lines.join('\n') + '\n';
  }
}

/** At most `slots` computations at once, and at most `waiting` queued behind them; beyond that, refuse. */
export class Gate {
  inFlight = 0;
  private readonly queue: (() => void)[] = [];
  constructor(
    private readonly slots: number,
    private readonly waiting: number,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  /** Resolves when a slot is free; false (at once) when the queue is full. */
  async enter(): Promise<boolean> {
    if (this.inFlight < this.slots) {
      this.inFlight++;
      return true;
    }
    if (this.queue.length >= this.waiting) return false;
    await new Promise<void>((resolve) => this.queue.push(resolve));
    return true;
  }

  leave(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.inFlight--;
  }
}
