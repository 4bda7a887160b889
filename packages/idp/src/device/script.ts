/**
 * The device page's only script, served from /assets/device.js (CSP
 * script-src 'self'). It listens to /device/events and adds or removes
 * request cards without reloading; every value goes in through textContent
 * or a property, never as markup. Cards already shown are kept as they are,
 * so a code being typed is not wiped by an update.
 */
export const DEVICE_SCRIPT = `'use strict';
(() => {
  const list = document.getElementById('requests');
  const empty = document.getElementById('empty');
  const csrfMeta = document.querySelector('meta[name="palisade-csrf"]');
  if (!list || !empty || !csrfMeta) return;
  const csrf = csrfMeta.getAttribute('content');

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children || []) node.append(child);
    return node;
  }
  function actionForm(item, action, button, withCode) {
    const form = el('form', { method: 'post', action: '/device/requests/' + encodeURIComponent(item.id) + '/' + action, className: action });
    form.append(el('input', { type: 'hidden', name: 'csrf', value: csrf }));
    if (withCode) {
      const input = el('input', { type: 'text', name: 'code', inputMode: 'numeric', pattern: '[0-9]{6}', maxLength: 6, autocomplete: 'one-time-code', required: true });
      form.append(el('label', {}, ['Code from your authenticator app', input]));
    }
    form.append(el('div', { className: 'actions' }, [button]));
    return form;
  }
  function card(item) {
    const li = el('li', { className: 'request' });
    li.dataset.id = item.id;
    for (const line of item.headlines) li.append(el('p', { className: 'headline', textContent: line }));
    if (item.binding_message !== null) {
      li.append(el('p', { className: 'binding' }, ['The application shows: ', el('strong', { textContent: item.binding_message })]));
    }
    for (const detail of item.details) {
      const dl = el('dl');
      for (const field of detail.fields) dl.append(el('dt', { textContent: field.name }), el('dd', { textContent: field.value }));
      li.append(dl);
    }
    li.append(el('p', { className: 'scope-name', textContent: item.client.id + ' · ' + item.scope.join(' ') }));
    li.append(actionForm(item, 'approve', el('button', { type: 'submit', textContent: 'Approve' }), item.needs_code));
    li.append(actionForm(item, 'deny', el('button', { type: 'submit', className: 'secondary', textContent: 'Deny' }), false));
    return li;
  }
  function render(items) {
    const wanted = new Set(items.map((item) => item.id));
    for (const li of [...list.children]) if (!wanted.has(li.dataset.id)) li.remove();
    const shown = new Set([...list.children].map((li) => li.dataset.id));
    for (const item of items) if (!shown.has(item.id)) list.append(card(item));
    empty.hidden = items.length > 0;
  }
  const source = new EventSource('/device/events');
  source.addEventListener('requests', (event) => render(JSON.parse(event.data)));
})();
`;
