// explain: the answer a client would get for a hostname, with the steering trace that led to it.
// Runs the same answer() as the query path, with a trace attached and the client given as an ECS subnet.

import { RRClass, RRType, rcodeName, typeName } from '../dns/constants.js';
import { addressToString } from '../dns/ecs.js';
import { bytesToIp, ipToBytes } from '../dns/address.js';
import { QUESTION_NAME, type ClientSubnet, type Query, type WireRR } from '../dns/types.js';
import type { Snapshot } from '../state/snapshot.js';
import { mathRandom, type Rng } from '../steering/rng.js';
import { createTrace, type Trace } from '../steering/trace.js';
import { answer } from './answer.js';

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
    edns: { version: 0, udpSize: 1232, dnssecOk: false, compactOk: false, ecs: client, nsid: false, cookie: null },
  };
  // Steered or not shows once answered: a tenant's subdomain is steered through its wildcard.
  // The resolver is the ECS client itself (used only when its prefix is /0).
  const trace = createTrace();
  const res = answer(query, snap, rng, ipToBytes(addressToString(client.family, client.address)) ?? undefined, trace);
  const ans = res.answer;
  const steered = res.steeredName !== null;
  const records = [...ans.answer].map((rr) => rrText(rr, fqdn));
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
    trace: steered ? trace : null,
    summary,
  };
}

function rrText(rr: WireRR, qname: string): string {
  const data = rr.type === RRType.A || rr.type === RRType.AAAA ? bytesToIp(rr.rdata) : Buffer.from(rr.rdata).toString('hex');
  return `${rr.owner === QUESTION_NAME ? qname : rr.owner} ${rr.ttl} ${typeName(rr.type)} ${data}`;
}
