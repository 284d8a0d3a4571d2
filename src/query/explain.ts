// explain: the answer a client would get for a hostname, with the steering trace that led to it.
// Runs the same answer() as the query path, with a trace attached and the client given as an ECS subnet.

import { RRClass, RRType, rcodeName, typeName } from '../dns/constants.js';
import { addressToString } from '../dns/ecs.js';
import { bytesToIp } from '../dns/ip.js';
import type { ClientSubnet, Query, WireRR } from '../dns/types.js';
import type { Snapshot } from '../state/snapshot.js';
import { mathRandom, type Rng } from '../steering/rng.js';
import { createTrace, type Trace } from '../steering/trace.js';
import { answer, newContext } from './answer.js';

export interface Explanation {
  hostname: string;
  qtype: string;
  client: string;
  steered: boolean;
  rcode: string;
  answer: string[];
  ecsScope: number;
  snapshotVersion: number;
  trace: Trace | null;
  summary: string;
}

export function explainQuery(snap: Snapshot, fqdn: string, qtype: number, client: ClientSubnet, rng: Rng = mathRandom): Explanation {
  const query: Query = {
    id: 0, flags: 0, opcode: 0, qname: fqdn, qtype, qclass: RRClass.IN, questionEnd: 12,
    edns: { version: 0, udpSize: 1232, dnssecOk: false, ecs: client, nsid: false },
  };
  const steered = snap.steered.has(fqdn);
  const trace = steered ? createTrace() : null;
  const ctx = newContext(query, addressToString(client.family, client.address), rng, trace);
  const ans = answer(ctx, snap);
  const records = [...ans.answer].map(rrText);
  const clientText = `${addressToString(client.family, client.address)}/${client.sourcePrefix}`;
  const summary = `answer: ${rcodeName(ans.rcode)}${records.length ? ' ' + records.join(', ') : ' (no records)'}; ECS scope /${ans.ecsScope}` +
    (steered ? '' : `; ${fqdn} is not a steered hostname, so every client gets this answer`);
  return {
    hostname: fqdn,
    qtype: typeName(qtype),
    client: clientText,
    steered,
    rcode: rcodeName(ans.rcode),
    answer: records,
    ecsScope: ans.ecsScope,
    snapshotVersion: snap.version,
    trace,
    summary,
  };
}

function rrText(rr: WireRR): string {
  const data = rr.type === RRType.A || rr.type === RRType.AAAA ? bytesToIp(rr.rdata) : Buffer.from(rr.rdata).toString('hex');
  return `${rr.owner} ${rr.ttl} ${typeName(rr.type)} ${data}`;
}
