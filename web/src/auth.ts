// Authentication and permissions of the UI.
//
// With an API auth backend on the analyzer, /api, /ws and /metrics need
// credentials: POST /login (username, password) answers the user's
// permissions and sets two cookies, authtoken (HttpOnly, sent by fetch and
// websockets of the same origin) and permissions (base64 of the same JSON
// array). Without a backend, everything is allowed and nothing here shows.
//
// What a role may not do is hidden by a generated style sheet: an element
// marked data-perm="capture:write" (space separated, all needed) is hidden
// when the role lacks one; an element marked data-perm-denied="capture:write"
// shows only then (a note in place of a hidden form).

import { h, clear } from './dom';
import { UI_HEADERS } from './api';

export interface Permission {
  Object: string;
  Action: string;
  Allowed: boolean;
}

/** Every object:action the UI hides something for. */
export const UI_PERMISSIONS = [
  'topology:read', 'status:read',
  'capture:read', 'capture:write', 'capture:rawpackets',
  'injectpacket:read', 'injectpacket:write',
  'alert:read', 'alert:write',
  'workflow:read', 'workflow:write', 'workflow.call:write',
  'noderule:read', 'noderule:write', 'edgerule:read', 'edgerule:write',
  'node:read', 'node:write', 'edge:read', 'edge:write',
  'pcap:write',
];

let perms: Map<string, boolean> | null = null; // null: everything allowed
let styleEl: HTMLStyleElement | null = null;

/** Whether the current user may do act on obj (true when the server says nothing). */
export function can(obj: string, act: string): boolean {
  if (!perms) return true;
  return perms.get(`${obj}:${act}`) ?? true;
}

/** The permissions of the permissions cookie, or null when there is none or it does not parse. */
export function permissionsFromCookie(): Permission[] | null {
  const m = document.cookie.match(/(?:^|;\s*)permissions=([^;]*)/);
  if (!m || !m[1]) return null;
  try {
    let raw = decodeURIComponent(m[1]);
    // Go's http.SetCookie quotes values with some characters; base64 has none of them, but be lenient.
    if (raw.startsWith('"') && raw.endsWith('"')) raw = raw.slice(1, -1);
    const v = JSON.parse(atob(raw));
    return Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/** Sets what the user may do (null: everything) and hides the rest. */
export function setPermissions(list: Permission[] | null) {
  perms = list ? new Map(list.map((p) => [`${p.Object}:${p.Action}`, !!p.Allowed])) : null;
  const rules: string[] = [];
  for (const key of UI_PERMISSIONS) {
    const [obj, act] = key.split(':');
    if (can(obj, act)) continue;
    rules.push(`[data-perm~="${key}"] { display: none !important; }`);
    rules.push(`[data-perm-denied~="${key}"] { display: revert !important; }`);
  }
  if (!styleEl) {
    styleEl = h('style', { id: 'perm-style' });
    document.head.appendChild(styleEl);
  }
  styleEl.textContent = rules.join('\n');
  document.body.dataset.denied = UI_PERMISSIONS.filter((k) => !can(...(k.split(':') as [string, string]))).join(' ');
}

const USER_KEY = 'skydive.user';
export const rememberedUser = () => {
  try {
    return localStorage.getItem(USER_KEY) || '';
  } catch {
    return '';
  }
};

/** POST /login; answers the permissions, throws the server's message. */
export async function login(username: string, password: string): Promise<Permission[] | null> {
  const r = await fetch('/login', {
    method: 'POST',
    headers: { ...UI_HEADERS, 'Content-Type': 'application/json' },
    body: JSON.stringify({ Username: username, Password: password }),
    credentials: 'same-origin',
  });
  const text = (await r.text()).trim();
  if (r.status === 401) throw new Error('Wrong user name or password.');
  if (!r.ok) throw new Error(`${r.status}: ${text || r.statusText}`);
  try {
    localStorage.setItem(USER_KEY, username);
  } catch {
    /* private mode */
  }
  try {
    const v = JSON.parse(text);
    if (Array.isArray(v?.Permissions)) return v.Permissions;
  } catch {
    /* the cookie then */
  }
  return permissionsFromCookie();
}

/** GET /logout clears the cookies and sends back to /. */
export function logout() {
  try {
    localStorage.removeItem(USER_KEY);
  } catch {
    /* private mode */
  }
  window.location.href = '/logout';
}

/**
 * The login screen: over the whole page until onLogin resolves. show()
 * again while it is up only updates the message.
 */
export class LoginScreen {
  el: HTMLElement;
  private user: HTMLInputElement;
  private password: HTMLInputElement;
  private submit: HTMLButtonElement;
  private msg: HTMLElement;
  private resolve: ((p: Permission[] | null) => void) | null = null;

  constructor() {
    this.user = h('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', required: true });
    this.password = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password' });
    this.submit = h('button', { id: 'login-submit', type: 'submit', class: 'primary' }, 'Log in');
    this.msg = h('div', { class: 'login-msg', id: 'login-error', role: 'alert' });
    const form = h('form', { class: 'login-box', id: 'login-form' },
      h('div', { class: 'logo' }, 'Skydive'),
      h('p', { class: 'hint' }, 'This analyzer needs you to log in.'),
      h('label', null, h('span', null, 'User name'), this.user),
      h('label', null, h('span', null, 'Password'), this.password),
      h('div', { class: 'form-actions' }, this.submit),
      this.msg);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    });
    this.el = h('div', { class: 'login-screen', id: 'login', hidden: true }, form);
    document.body.appendChild(this.el);
  }

  get shown() {
    return !this.el.hidden;
  }

  /** Shows the form; resolves with the permissions once logged in. */
  show(info = ''): Promise<Permission[] | null> {
    this.setMsg(info, false);
    if (this.shown && this.resolve) return new Promise((ok) => {
      const prev = this.resolve!;
      this.resolve = (p) => (prev(p), ok(p));
    });
    this.el.hidden = false;
    if (!this.user.value) this.user.value = rememberedUser();
    (this.user.value ? this.password : this.user).focus();
    return new Promise((ok) => (this.resolve = ok));
  }

  private setMsg(text: string, error = true) {
    this.msg.className = `login-msg${error && text ? ' error' : ''}`;
    clear(this.msg, text);
  }

  private async send() {
    const user = this.user.value.trim();
    if (!user) return this.setMsg('User name is required.');
    this.submit.disabled = true;
    this.setMsg('Logging in…', false);
    try {
      const p = await login(user, this.password.value);
      this.password.value = '';
      this.setMsg('', false);
      this.el.hidden = true;
      const r = this.resolve;
      this.resolve = null;
      r?.(p);
    } catch (e) {
      this.setMsg(e instanceof Error ? e.message : String(e));
      this.password.select();
    } finally {
      this.submit.disabled = false;
    }
  }
}
