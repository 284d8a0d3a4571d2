// POST /v1/reload (a write token): every instance reloads its zones (fleet-reload.ts), and the answer
// reports each one's outcome. Audited before anything is reloaded.

import type { FastifyInstance } from 'fastify';
import { OpsError } from './errors.js';
import { fleetReload } from './fleet-reload.js';
import { addRoute, commitChanges, orEmpty, parseBody, ReasonBody, type OpsDeps } from './route-kit.js';

export async function reloadRoutes(v1: FastifyInstance, deps: OpsDeps): Promise<void> {
  addRoute(v1, deps, 'POST', '/reload', 'write', async (req, who) => {
    const body = parseBody(ReasonBody, orEmpty(req.body));
    const reloader = deps.reloader;
    if (!reloader) throw new OpsError('NOT_FOUND', 'fleet-wide reload is not enabled on this instance');
    const id = reloader.newId();
    const before = await reloader.presence.instances();
    // Audited first: a reload nobody can trace is worse than one refused while the store is down.
    await commitChanges(deps.store, [], {
      actor: who!.name, action: 'reload', target: 'fleet', reason: body.reason ?? null,
      before: before.instances.map((p) => ({ id: p.id, hash: p.hash })), after: null, detail: { reload: id },
    });
    const report = await fleetReload(reloader, id);
    deps.log?.info({ reload: id, by: who!.name, ok: report.ok, notReported: report.notReported }, 'fleet-wide reload');
    return report;
  });
}
