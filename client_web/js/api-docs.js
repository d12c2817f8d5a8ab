// /api/docs: the API's OpenAPI document (/api/v1/openapi.json) as a readable page. Our own small
// renderer, so the page needs nothing from another site (no CDN) and works on a closed network.
// It shows what the document says; the document is made from the server's models.

const DOCUMENT_URL = '/api/v1/openapi.json';

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function refName(ref) {
  return ref.split('/').pop();
}

/** A schema in one line: `CaseAnswer`, `string | null`, `array of SessionAnswer`. */
function typeText(schema) {
  if (!schema) return 'any';
  if (schema.$ref) return refName(schema.$ref);
  if (schema.anyOf) return schema.anyOf.map(typeText).join(' | ');
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.type === 'array') return `array of ${typeText(schema.items)}`;
  if (schema.type === 'object' && schema.additionalProperties) return `object of ${typeText(schema.additionalProperties)}`;
  return schema.format ? `${schema.type} (${schema.format})` : schema.type || 'any';
}

function typeNode(schema) {
  const text = typeText(schema);
  if (schema && schema.$ref) return el('a', { href: `#schema-${refName(schema.$ref)}` }, text);
  return el('code', {}, text);
}

function operationId(method, path) {
  return `op-${method}-${path}`.replace(/[^A-Za-z0-9-]+/g, '-');
}

function renderOperation(method, path, operation) {
  const section = el('section', { class: 'card', id: operationId(method, path) });
  section.append(el('h3', {}, el('code', {}, `${method.toUpperCase()} ${path}`)));
  section.append(el('p', {}, operation.summary || ''));
  section.append(el('p', { class: 'muted' }, operation.description || ''));
  const parameters = operation.parameters || [];
  if (parameters.length) {
    const list = el('ul');
    for (const parameter of parameters) {
      const line = el('li', {}, el('code', {}, parameter.name), ` (${parameter.in}) `, typeNode(parameter.schema));
      if (parameter.description) line.append(`: ${parameter.description}`);
      list.append(line);
    }
    section.append(el('p', {}, 'Parameters:'), list);
  }
  const body = operation.requestBody && operation.requestBody.content['application/json'];
  if (body) {
    const optional = operation.requestBody.required ? '' : ' (may be empty)';
    section.append(el('p', {}, 'JSON body: ', typeNode(body.schema), optional));
  }
  const answers = el('ul');
  for (const [status, response] of Object.entries(operation.responses || {})) {
    const line = el('li', {}, el('code', {}, status), ` ${response.description}`);
    for (const [mediaType, content] of Object.entries(response.content || {})) {
      line.append(' · ', el('code', {}, mediaType), ' ', typeNode(content.schema));
    }
    answers.append(line);
  }
  section.append(el('p', {}, 'Answers:'), answers);
  return section;
}

function renderSchema(name, schema) {
  const section = el('section', { class: 'card', id: `schema-${name}` });
  section.append(el('h3', {}, name));
  if (schema.description) section.append(el('p', {}, schema.description));
  const required = new Set(schema.required || []);
  const list = el('ul');
  for (const [field, property] of Object.entries(schema.properties || {})) {
    const line = el('li', {}, el('code', {}, field), required.has(field) ? ' ' : ' (optional) ', typeNode(property));
    if (property.description) line.append(`: ${property.description}`);
    list.append(line);
  }
  section.append(list);
  return section;
}

async function main() {
  const intro = document.getElementById('api-intro');
  let spec;
  try {
    const response = await fetch(DOCUMENT_URL, { credentials: 'same-origin' });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    spec = await response.json();
  } catch (error) {
    intro.textContent = `The API document could not be loaded (${error.message}); reload the page.`;
    return;
  }
  intro.textContent = `${spec.info.description} OpenAPI ${spec.openapi}, API version ${spec.info.version}: `;
  intro.append(el('a', { href: DOCUMENT_URL }, DOCUMENT_URL));
  const index = el('ul');
  const operations = document.getElementById('api-operations');
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      index.append(el('li', {}, el('a', { href: `#${operationId(method, path)}` }, `${method.toUpperCase()} ${path}`)));
      operations.append(renderOperation(method, path, operation));
    }
  }
  document.getElementById('api-index').append(index);
  const schemas = document.getElementById('api-schemas');
  for (const [name, schema] of Object.entries(spec.components.schemas)) schemas.append(renderSchema(name, schema));
}

main();
