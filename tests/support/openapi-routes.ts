import { openApiDocument } from '../../src/api/openapi.js';

export interface DocumentedRoute {
  method: string;
  /** The path with its parameters filled in. */
  path: string;
  template: string;
  public: boolean;
}

/** Every method and path of the OpenAPI document, with parameters filled by `fill`. */
export function documentedRoutes(fill: Record<string, string>): DocumentedRoute[] {
  const doc = openApiDocument('test');
  const routes: DocumentedRoute[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods as Record<string, { security?: unknown[] }>)) {
      const path = template.replace(/\{(\w+)\}/g, (_, name: string) => fill[name] ?? name);
      routes.push({ method: method.toUpperCase(), path, template, public: Array.isArray(operation.security) && operation.security.length === 0 });
    }
  }
  return routes;
}
