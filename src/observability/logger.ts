// The operator's logger: pino, JSON to stdout, with key material redacted wherever it could hide.
import { type Logger, pino } from 'pino';

/** Paths that could carry key material or tokens, should an object ever be logged whole. */
export const REDACT_PATHS = [
  // Not a top-level `key`: the work queue logs its `namespace/name` keys under that name.
  '*.key',
  'tls.key',
  '*["tls.key"]',
  'data',
  '*.data',
  'stringData',
  '*.stringData',
  'credentials',
  '*.credentials',
  'clientsecret',
  '*.clientsecret',
  'password',
  '*.password',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
];

export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { component: 'btp-cert-operator' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
