/**
 * Keystone v3's token reply and the choice of Placement's URL in its service
 * catalog, as keystoneauth makes it: the services of `service_type` (and
 * `service_name`, when both sides name one); their endpoints in `region_name`
 * (an endpoint's `region_id`, else `region`) when one is set; then the first
 * interface of `valid_interfaces` that has an endpoint. Endpoints with an
 * empty URL are skipped.
 */
import { z } from 'zod';
import type { Interface } from './settings';

const CatalogEndpoint = z.object({
  url: z.string(),
  interface: z.string(),
  region_id: z.string().nullish(),
  region: z.string().nullish(),
});

const CatalogService = z.object({
  type: z.string(),
  name: z.string().nullish(),
  endpoints: z.array(CatalogEndpoint).default([]),
});

/** POST /v3/auth/tokens, 201: the parts hostwall reads (the token itself is the X-Subject-Token header). */
export const TokenReply = z.object({
  token: z.object({
    expires_at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'is not a date'),
    catalog: z.array(CatalogService).default([]),
  }),
});
export type TokenReply = z.output<typeof TokenReply>;
export type Catalog = TokenReply['token']['catalog'];

/** Keystone's error body: {"error": {"code", "title", "message"}}. */
export const KeystoneErrorBody = z.object({ error: z.object({ message: z.string().optional(), title: z.string().optional() }) });

export interface EndpointFilter {
  service_type: string;
  service_name?: string | undefined;
  region_name?: string | undefined;
  valid_interfaces: readonly Interface[];
}

export type EndpointChoice = { url: string } | { problem: string };

export function chooseEndpoint(catalog: Catalog, f: EndpointFilter): EndpointChoice {
  const services = catalog.filter((s) => s.type === f.service_type && (f.service_name === undefined || !s.name || s.name === f.service_name));
  const what = `service type "${f.service_type}"${f.service_name ? ` named "${f.service_name}"` : ''}`;
  if (services.length === 0) return { problem: `the token's catalog has no ${what} (it has: ${catalog.map((s) => s.type).join(', ') || 'nothing'})` };
  const endpoints = services
    .flatMap((s) => s.endpoints)
    .filter((e) => e.url !== '' && (f.region_name === undefined || (e.region_id || e.region) === f.region_name));
  for (const wanted of f.valid_interfaces) {
    const hit = endpoints.find((e) => e.interface.replace(/URL$/, '') === wanted);
    if (hit) return { url: hit.url };
  }
  const region = f.region_name ? ` in region "${f.region_name}"` : '';
  return { problem: `the token's catalog has no ${f.valid_interfaces.join(' or ')} endpoint of ${what}${region}` };
}
