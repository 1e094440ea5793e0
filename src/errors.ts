/** Exit codes of the CLI: 0 ok, 1 runtime failure, 2 usage error, 3 threshold not met. */
export const ExitCode = { ok: 0, runtime: 1, usage: 2, threshold: 3 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** `limit`: a request over a limit its front end sets (a server's pass budget); a usage error on the CLI. */
export type ErrorKind = 'usage' | 'runtime' | 'threshold' | 'limit';
const EXIT: Record<ErrorKind, ExitCode> = {
  usage: ExitCode.usage,
  limit: ExitCode.usage,
  runtime: ExitCode.runtime,
  threshold: ExitCode.threshold,
};

/** How a front end names a parameter in a message: `--steps` on the CLI, `steps` in an HTTP body. */
export type ParamStyle = (param: string) => string;
export const cliParam: ParamStyle = (param) => `--${param}`;
export const plainParam: ParamStyle = (param) => `'${param}'`;

/** `{param}` names the parameter at fault, `{param:name}` any other parameter the message mentions. */
function word(template: string, param: string | undefined, style: ParamStyle): string {
  const line = template.replace(/\s*\n\s*/g, ' ').replace(/\{param:([\w-]+)\}/g, (_, name: string) => style(name));
  return param ? line.replaceAll('{param}', style(param)) : line;
}

/**
 * An error meant for the user: one line. It carries its kind and, where one parameter is at fault, that
 * parameter's name; the message names it as `{param}`, which each front end words its own way.
 */
export class InterpError extends Error {
  readonly exitCode: ExitCode;
  constructor(
    readonly template: string,
    readonly kind: ErrorKind,
    readonly param?: string,
  ) {
    super(word(template, param, cliParam));
    this.name = 'InterpError';
    this.exitCode = EXIT[kind];
  }

  /** The message with the parameter named in the caller's style. */
  worded(style: ParamStyle): string {
    return word(this.template, this.param, style);
  }
}

export const usageError = (message: string) => new InterpError(message, 'usage');
export const runtimeError = (message: string) => new InterpError(message, 'runtime');
export const thresholdError = (message: string) => new InterpError(message, 'threshold');
/** A usage error about one parameter: the message names it as `{param}`. */
export const usageFault = (param: string, message: string) => new InterpError(message, 'usage', param);
