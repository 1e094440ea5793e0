/** Exit codes of the CLI: 0 ok, 1 runtime failure, 2 usage error, 3 threshold not met. */
export const ExitCode = { ok: 0, runtime: 1, usage: 2, threshold: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: its message is one line, printed as is. */
export class InterpError extends Error {
  constructor(message: string, readonly exitCode: ExitCode) {
    super(message.replace(/\s*\n\s*/g, ' '));
    this.name = 'InterpError';
  }
}

export const usageError = (message: string) => new InterpError(message, ExitCode.usage);
export const runtimeError = (message: string) => new InterpError(message, ExitCode.runtime);
export const thresholdError = (message: string) => new InterpError(message, ExitCode.threshold);
