// REST helpers for the analyzer's API (see api.md).

export class APIError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

/**
 * Sent with every request of the UI: with it, a 401 comes without the
 * WWW-Authenticate challenge (no Basic dialog of the browser); the UI shows
 * its own login form.
 */
export const UI_HEADERS: Record<string, string> = { 'X-Skydive-UI': '1' };

/** Called on every 401 (the session is gone, or never was): main shows the login form. */
let onUnauthorized: (e: APIError) => void = () => {};
export function setUnauthorizedHandler(f: (e: APIError) => void) {
  onUnauthorized = f;
}

/** fetch with the UI's headers; a 401 is an APIError, given to onUnauthorized too. */
export async function uiFetch(path: string, init: RequestInit = {}): Promise<{ r: Response; text: string }> {
  const r = await fetch(path, { credentials: 'same-origin', ...init, headers: { ...UI_HEADERS, ...(init.headers as Record<string, string> | undefined) } });
  const text = await r.text();
  if (!r.ok) {
    const e = new APIError(r.status, text.trim() || r.statusText);
    if (r.status === 401) onUnauthorized(e);
    throw e;
  }
  return { r, text };
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  const { text } = await uiFetch(path, init);
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as unknown as T;
  }
}

export const gremlin = <T = any>(q: string) => api<T>('POST', '/api/topology', { GremlinQuery: q });

/** Quotes a string for a Gremlin query. */
export function gq(s: string): string {
  return s.includes("'") ? `"${s}"` : `'${s}'`;
}

/** Not served by this analyzer (the API has not this resource yet). */
export const isMissing = (e: unknown) => e instanceof APIError && (e.status === 404 || e.status === 405 || e.status === 501);

/** Walks a query result and collects the IDs of nodes and edges in it. */
export function collectIDs(v: any, nodes: Set<string>, edges: Set<string>, depth = 0) {
  if (v == null || depth > 6) return;
  if (Array.isArray(v)) {
    for (const x of v) collectIDs(x, nodes, edges, depth + 1);
    return;
  }
  if (typeof v !== 'object') return;
  if (typeof v.ID === 'string' && v.Metadata) {
    if (typeof v.Parent === 'string' && typeof v.Child === 'string') edges.add(v.ID);
    else nodes.add(v.ID);
    return;
  }
  for (const k of ['Nodes', 'Edges', 'Added', 'Removed', 'Changed', 'New']) if (k in v) collectIDs(v[k], nodes, edges, depth + 1);
}
