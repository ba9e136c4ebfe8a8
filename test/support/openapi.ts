/**
 * Structural checks of an OpenAPI 3.0 document: what a client generator or Swagger UI relies on.
 * Returns the problems found (empty when the document is sound). Not a full JSON Schema validation of
 * the specification, but it checks the rules a schema cannot: path templates against declared path
 * parameters, unique operation ids, references that resolve, security requirements that name declared
 * schemes.
 */
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const PARAM_LOCATIONS = new Set(['query', 'header', 'path', 'cookie']);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function resolvePointer(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

function checkRefs(doc: Json, node: unknown, at: string, problems: string[]): void {
  if (Array.isArray(node)) {
    node.forEach((v, i) => {
      checkRefs(doc, v, `${at}/${i}`, problems);
    });
  } else if (isObject(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref') {
        if (typeof v !== 'string' || resolvePointer(doc, v) === undefined) {
          problems.push(`${at}: unresolved $ref ${String(v)}`);
        }
      } else {
        checkRefs(doc, v, `${at}/${k}`, problems);
      }
    }
  }
}

export function openApiProblems(doc: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(doc)) return ['document is not an object'];
  if (typeof doc.openapi !== 'string' || !/^3\.\d+\.\d+$/.test(doc.openapi)) {
    problems.push(`openapi must be a 3.x.y version string, got ${String(doc.openapi)}`);
  }
  const info = doc.info;
  if (!isObject(info) || typeof info.title !== 'string' || typeof info.version !== 'string') {
    problems.push('info.title and info.version are required strings');
  }
  const schemes =
    isObject(doc.components) && isObject(doc.components.securitySchemes)
      ? doc.components.securitySchemes
      : {};
  for (const [name, scheme] of Object.entries(schemes)) {
    if (!isObject(scheme) || typeof scheme.type !== 'string')
      problems.push(`securitySchemes.${name}: type required`);
  }
  const checkSecurity = (security: unknown, at: string) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) {
      problems.push(`${at}: security must be an array`);
      return;
    }
    for (const req of security) {
      if (!isObject(req)) problems.push(`${at}: security requirement must be an object`);
      else
        for (const name of Object.keys(req))
          if (!(name in schemes)) problems.push(`${at}: unknown scheme ${name}`);
    }
  };
  checkSecurity(doc.security, 'document');

  if (!isObject(doc.paths)) {
    problems.push('paths is required');
    return problems;
  }
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/')) problems.push(`path ${path} must start with /`);
    if (!isObject(item)) {
      problems.push(`${path}: path item must be an object`);
      continue;
    }
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
    for (const method of METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const at = `${method.toUpperCase()} ${path}`;
      if (!isObject(op)) {
        problems.push(`${at}: operation must be an object`);
        continue;
      }
      if (typeof op.operationId === 'string') {
        if (operationIds.has(op.operationId)) problems.push(`${at}: duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
      const params = Array.isArray(op.parameters) ? op.parameters : [];
      const seen = new Set<string>();
      for (const p of params) {
        if (!isObject(p) || typeof p.name !== 'string' || !PARAM_LOCATIONS.has(String(p.in))) {
          problems.push(`${at}: parameter needs a name and in (query|header|path|cookie)`);
          continue;
        }
        const key = `${p.in}:${p.name}`;
        if (seen.has(key)) problems.push(`${at}: duplicate parameter ${key}`);
        seen.add(key);
        if (p.in === 'path') {
          if (p.required !== true) problems.push(`${at}: path parameter ${p.name} must be required`);
          if (!templated.includes(p.name))
            problems.push(`${at}: path parameter ${p.name} not in the template`);
        }
        if (!isObject(p.schema) && !isObject(p.content))
          problems.push(`${at}: parameter ${p.name} needs a schema`);
      }
      for (const name of templated) {
        if (!seen.has(`path:${name}`)) problems.push(`${at}: template parameter {${name}} is not declared`);
      }
      if (!isObject(op.responses) || Object.keys(op.responses).length === 0) {
        problems.push(`${at}: at least one response is required`);
      } else {
        for (const [code, response] of Object.entries(op.responses)) {
          if (!/^([1-5](\d\d|XX)|default)$/.test(code)) problems.push(`${at}: bad response code ${code}`);
          if (
            !isObject(response) ||
            (typeof response.description !== 'string' && response.$ref === undefined)
          ) {
            problems.push(`${at}: response ${code} needs a description`);
          }
        }
      }
      checkSecurity(op.security, at);
    }
  }
  checkRefs(doc, doc, '#', problems);
  return problems;
}
