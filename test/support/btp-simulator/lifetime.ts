// Certificate lifetimes from the binding parameters `validity` + `validity-type`.
// DAYS (1-30) is XSUAA's documented range; MONTHS and YEARS come from the Service Manager
// page (btp.md section 1; their upper bounds here are the simulator's choice). SECONDS,
// MINUTES and HOURS are simulator-only extensions so that renewal can be tested in real time.

export const VALIDITY_TYPES = ['SECONDS', 'MINUTES', 'HOURS', 'DAYS', 'MONTHS', 'YEARS'] as const;
export type ValidityType = (typeof VALIDITY_TYPES)[number];

export const VALIDITY_RANGES: Readonly<Record<ValidityType, readonly [number, number]>> = {
  SECONDS: [1, 30 * 86_400],
  MINUTES: [1, 30 * 1_440],
  HOURS: [1, 30 * 24],
  DAYS: [1, 30],
  MONTHS: [1, 12],
  YEARS: [1, 3],
};

export interface Validity {
  readonly value: number;
  readonly type: ValidityType;
}

/** notAfter for a certificate valid from `notBefore` for `validity` (calendar months and years). */
export function notAfterFor(notBefore: Date, validity: Validity): Date {
  const end = new Date(notBefore.getTime());
  switch (validity.type) {
    case 'SECONDS':
      end.setTime(end.getTime() + validity.value * 1000);
      break;
    case 'MINUTES':
      end.setTime(end.getTime() + validity.value * 60_000);
      break;
    case 'HOURS':
      end.setTime(end.getTime() + validity.value * 3_600_000);
      break;
    case 'DAYS':
      end.setTime(end.getTime() + validity.value * 86_400_000);
      break;
    case 'MONTHS':
      end.setUTCMonth(end.getUTCMonth() + validity.value);
      break;
    case 'YEARS':
      end.setUTCFullYear(end.getUTCFullYear() + validity.value);
      break;
  }
  return end;
}
