// A zone's SOA serial, read from the loaded records (RFC 1035 §3.3.13: SERIAL is the third field
// from the end of the SOA RDATA, before REFRESH, RETRY, EXPIRE and MINIMUM).

import { RRType } from '../dns/constants.js';
import type { ZoneRecord } from './masterfile.js';

export function zoneSerial(records: readonly ZoneRecord[]): number | null {
  const soa = records.find((r) => r.type === RRType.SOA);
  if (!soa || soa.rdata.length < 20) return null;
  return new DataView(soa.rdata.buffer, soa.rdata.byteOffset, soa.rdata.byteLength).getUint32(soa.rdata.length - 20);
}
