// The tenant map at run time: PUT/DELETE/GET /v1/tenants/{slug} and the all-or-nothing bulk
// POST /v1/tenants:import. Entries live in the fleet store's 'tenant' namespace (a hash in Redis) and
// beat the tenants file; a DELETE of a tenant the file has writes a tombstone (region null) that
// hides it. Every change is audited; an import is one audit entry with its counts.

import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as z from 'zod';
import type { ChangeList, TenantOverride } from '../state/fleet-store.js';
import { listTenants } from '../state/tenant-list.js';
import { TenantDirectory, type TenantLookup } from '../state/tenant-directory.js';
import type { HostnamePolicy } from '../steering/policy.js';
import { slugProblem, tenantHostnames, tenantRegionCheck } from '../steering/tenant-residency.js';
import { OpsError } from './errors.js';
import { readImportBody, type ImportBody } from './import-body.js';
import { addRoute, commitChecked, orEmpty, param, parseBody, query, Reason, ReasonBody, type OpsDeps } from './route-kit.js';

/** An import may carry a million lines (about 25 MB of CSV). */
export const IMPORT_BODY_LIMIT = 64 * 1024 * 1024;
/** Tenants per page of GET /v1/tenants. */
const LIST_DEFAULT = 100;
const LIST_MAX = 10_000;
/** Problems listed in a refused import's answer (all are counted). */
const IMPORT_PROBLEMS = 20;

const TenantBody = z.strictObject({ region: z.string().min(1), reason: Reason.optional() });

export async function tenantRoutes(v1: FastifyInstance, deps: OpsDeps): Promise<void> {
  const { store } = deps;

  /** The map as the store has it now (the snapshot may be one change behind). */
  // Built on the snapshot's directory (at most a change or two behind): its table is reused, not
  // rebuilt from a million overrides on every call.
  const current = (): TenantDirectory => {
    const snap = deps.snapshot().tenants;
    return new TenantDirectory(snap.file, store.get('tenant'), snap);
  };
  const hostnames = (): HostnamePolicy[] => {
    const hosts = tenantHostnames(deps.snapshot().steering);
    if (hosts.length === 0) throw new OpsError('NOT_FOUND', 'no hostname routes tenants: give a wildcard hostname ("*.app") a tenants: section in its steer file');
    return hosts;
  };
  const slugParam = (req: FastifyRequest): string => {
    const slug = param(req, 'slug');
    const bad = slugProblem(slug);
    if (bad) throw new OpsError('BAD_REQUEST', `slug: ${bad}`);
    return slug;
  };
  const known = (t: TenantLookup, hosts: HostnamePolicy[]): TenantLookup & { region: string } => {
    if (t.region !== null) return t as TenantLookup & { region: string };
    const hidden = t.override ? ` (deleted through the API by ${t.override.by}${t.fileRegion ? `, hiding the file's ${t.fileRegion}` : ''})` : '';
    const rule = hosts.map((h) => `${h.fqdn} unknown: ${h.tenants!.unknown}`).join('; ');
    throw new OpsError('UNKNOWN_TENANT', `${t.slug} is not in the tenant map${hidden}; its subdomains get the rule for unknown tenants (${rule})`);
  };

  addRoute(v1, deps, 'GET', '/tenants', 'read', async (req) => {
    hostnames();
    const q = query(req);
    const limit = q.limit === undefined ? LIST_DEFAULT : Number(q.limit);
    if (!/^[0-9]*$/.test(q.limit ?? '') || limit < 1 || limit > LIST_MAX) throw new OpsError('BAD_REQUEST', `limit: an integer from 1 to ${LIST_MAX}`);
    return listTenants(current(), { prefix: q.prefix, cursor: q.cursor, limit });
  });

  addRoute(v1, deps, 'GET', '/tenants/:slug', 'read', async (req) => {
    const hosts = hostnames();
    const t = known(current().lookup(slugParam(req)), hosts);
    return {
      slug: t.slug, region: t.region, source: t.source,
      override: t.override,
      file: t.fileRegion === null ? null : { path: deps.snapshot().tenants.file.file, region: t.fileRegion },
      hostnames: hosts.map((h) => h.fqdn),
    };
  });

  addRoute(v1, deps, 'PUT', '/tenants/:slug', 'write', async (req, who) => {
    const hosts = hostnames();
    const slug = slugParam(req);
    const body = parseBody(TenantBody, req.body);
    const region = tenantRegionCheck(deps.snapshot().steering)(body.region);
    if (typeof region !== 'string') throw new OpsError('BAD_REQUEST', `region: ${region.message}`);
    return commitChecked(store, () => {
      const before = current().lookup(slug);
      const value: TenantOverride = { region, by: who!.name, at: deps.now() };
      const was = before.region === null ? 'new tenant' : before.region === region ? `unchanged; was from the ${before.source === 'file' ? 'file' : 'API'}` : `was ${before.region}`;
      return {
        changes: [{ ns: 'tenant', key: slug, value }],
        audit: { actor: who!.name, action: 'tenant.set', target: slug, reason: body.reason ?? null, before: summary(before), after: { region, source: 'api' } },
        answer: (version) => ({
          tenant: { slug, region, source: 'api' }, before: summary(before), version, hostnames: hosts.map((h) => h.fqdn),
          message: `tenant ${slug} → ${region} (${was})`,
        }),
      };
    });
  });

  addRoute(v1, deps, 'DELETE', '/tenants/:slug', 'write', async (req, who) => {
    const hosts = hostnames();
    const slug = slugParam(req);
    const body = parseBody(ReasonBody, orEmpty(req.body));
    return commitChecked(store, () => {
      const t = known(current().lookup(slug), hosts);
      // The file would bring a removed key back: hide the file's entry with a tombstone instead.
      const hides = t.fileRegion !== null;
      const value: TenantOverride | null = hides ? { region: null, by: who!.name, at: deps.now() } : null;
      return {
        changes: [{ ns: 'tenant', key: slug, value }],
        audit: { actor: who!.name, action: 'tenant.delete', target: slug, reason: body.reason ?? null, before: summary(t), after: null },
        answer: (version) => ({
          deleted: summary(t), hidesFileEntry: hides, version,
          message: `tenant ${slug} removed${hides ? ` (the file's entry, ${t.fileRegion}, is hidden until the tenant is set again)` : ''}; its subdomains now get the rule for unknown tenants`,
        }),
      };
    });
  });

  // Its own scope: the body, CSV or JSON lines whatever its content type, is parsed as it arrives.
  v1.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { bodyLimit: IMPORT_BODY_LIMIT }, (req: FastifyRequest, payload: Readable) =>
      readImportBody(req, payload, IMPORT_BODY_LIMIT, deps.snapshot().steering, IMPORT_PROBLEMS));
    // '::' is a literal ':' in a route (find-my-way): the path is /v1/tenants:import.
    addRoute(scope, deps, 'POST', '/tenants::import', 'write', async (req, who) => {
      hostnames();
      const reason = query(req).reason;
      if (reason !== undefined && !Reason.safeParse(reason).success) throw new OpsError('BAD_REQUEST', 'reason: 1 to 1000 characters');
      // No body at all reaches no parser: read as an empty one.
      const body = (req.body as ImportBody | undefined) ?? await readImportBody(req, null, IMPORT_BODY_LIMIT, deps.snapshot().steering, IMPORT_PROBLEMS);
      if ('refused' in body) throw body.refused;
      const { format, parsed } = body;
      if (parsed.problemCount > 0) {
        const first = parsed.problems[0];
        throw new OpsError('BAD_REQUEST', `import refused, nothing was changed: ${parsed.problemCount} bad line${parsed.problemCount === 1 ? '' : 's'} of ${parsed.lines}; first: line ${first.line}: ${first.message}`, {
          errorCount: parsed.problemCount, lines: parsed.lines, errors: parsed.problems.map(({ line, message }) => ({ line, message })),
        });
      }
      if (parsed.lines === 0) throw new OpsError('BAD_REQUEST', `the body has no tenant lines (${format === 'csv' ? '"slug,region"' : '{"slug": …, "region": …}'} per line)`);
      // One value per region, shared by its tenants: a million-line import makes a handful of objects.
      const at = deps.now();
      const values = new Map<string, TenantOverride>();
      const valueOf = (region: string): TenantOverride => {
        let v = values.get(region);
        if (v === undefined) values.set(region, (v = { region, by: who!.name, at }));
        return v;
      };
      const entries = parsed.entries;
      return commitChecked(store, () => {
        const dir = current();
        const counts = { created: 0, moved: 0, unchanged: 0 };
        const overrides = store.get('tenant');
        const differs = (slug: string, region: string): boolean => overrides.get(slug)?.region !== region;
        let written = 0;
        for (const [slug, region] of entries) {
          const before = dir.lookup(slug).region;
          if (before === null) counts.created++;
          else if (before === region) counts.unchanged++;
          else counts.moved++;
          if (differs(slug, region)) written++;
        }
        // Made on demand from the parsed table on each pass of the store: a million Change objects
        // beside the store's new view were most of the import's peak.
        const changes: ChangeList = {
          length: written,
          *[Symbol.iterator]() {
            for (const [slug, region] of entries) if (differs(slug, region)) yield { ns: 'tenant', key: slug, value: valueOf(region) };
          },
        };
        const detail = { format, lines: parsed.lines, imported: entries.size, ...counts, written };
        return {
          changes,
          audit: { actor: who!.name, action: 'tenant.import', target: 'tenants', reason: reason ?? null, before: null, after: null, detail },
          // (detail, not parsed: the parsed million entries need not live through the write.)
          answer: (version) => ({ ...detail, version, message: `imported ${detail.imported} tenants: ${counts.created} new, ${counts.moved} moved, ${counts.unchanged} unchanged` }),
        };
      });
    }, IMPORT_BODY_LIMIT);
  });
}

function summary(t: TenantLookup): { region: string; source: string } | null {
  return t.region === null ? null : { region: t.region, source: t.source! };
}
