/** HOST:PORT as given on the command line. */
export interface Address {
  host: string;
  port: number;
}

/** Parses HOST:PORT (port 0: any free port, for listening); throws a one-line error. */
export function parseAddress(text: string, what: string): Address {
  const m = /^(.+):(\d+)$/.exec(text);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !Number.isInteger(port) || port > 65535) throw new Error(`${what} must be HOST:PORT, not ${JSON.stringify(text)}`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

export const formatAddress = (a: Address): string => `${a.host}:${a.port}`;
