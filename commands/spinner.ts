import type { Ora } from 'ora';

/** Colour and spinners only where a person is watching: stderr is a TTY, not CI, and NO_COLOR is unset. */
export const interactive = (): boolean => Boolean(process.stderr.isTTY) && !process.env.CI;

/** Narrower than this, or of no reported size (a bare pseudo-terminal), a spinner would redraw without end. */
const SPINNER_MIN_COLUMNS = 20;

/** A spinner's text, and its end. */
export interface Spinner {
  text: string;
  stop(): void;
}

/**
 * A spinner where a person watches, else null. ora is imported only then (it is a tenth of a cold start), and
 * the spinner shows once it has loaded, with the latest text, unless it was stopped first.
 */
export function spinner(text: string): Spinner | null {
  if (!interactive() || (process.stderr.columns ?? 0) < SPINNER_MIN_COLUMNS) return null;
  let shown: Ora | null = null;
  let stopped = false;
  let current = text;
  void import('ora').then(({ default: ora }) => {
    // stdin stays untouched: a spinner that reads the terminal would take Ctrl-C from the shell.
    if (!stopped)
      shown = ora({
        text: current,
        stream: process.stderr,
        color: 'cyan',
        isEnabled: true,
        discardStdin: false,
      }).start();
  });
  return {
    get text() {
      return current;
    },
    set text(next: string) {
      current = next;
      if (shown) shown.text = next;
    },
    stop() {
      stopped = true;
      shown?.stop();
    },
  };
}

/** A spinner that counts done items with an ETA, or names a stage; every callback is a no-op off a TTY. */
export function progressSpinner(label: string, items: string) {
  const s = spinner(label);
  const start = Date.now();
  return {
    count: (done: number, total: number) => {
      const eta = Math.ceil(((Date.now() - start) / done / 1000) * (total - done));
      if (s) s.text = `${done}/${total} ${items} · ETA ${eta}s`;
    },
    stage: (stage: string) => {
      if (s) s.text = stage;
    },
    stop: () => s?.stop(),
  };
}

export async function withSpinner<T>(text: string, work: () => Promise<T>): Promise<T> {
  const s = spinner(text);
  try {
    return await work();
  } finally {
    s?.stop();
  }
}
