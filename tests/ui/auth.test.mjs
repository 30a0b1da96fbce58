// Authentication in the browser, against the real analyzer (skydive
// allinone): with basic auth on, the login screen, a wrong password, a guest
// who sees the topology but none of the controls that change something, an
// admin who has them and creates a capture; and TLS end to end, the test's
// CA trusted in the browser profile's NSS database (not by ignoring
// certificate errors), a profile without it refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAnalyzer, uiURL, launch, shot, sh, until, clickNode, rand } from './helpers.mjs';

const users = { admin: 'admin-pw', viewer: 'viewer-pw' };
const authConfig = {
  auth: { local: { type: 'basic', users } },
  analyzer: { auth: { api: { backend: 'local' } } },
  rbac: { policy: ['g, viewer, guest'] },
};

/** Page errors but the refusals a login screen is for (401 of fetches and of the websocket). */
const realErrors = (errors) => errors.filter((e) => !/\b401\b|Unauthorized|HTTP Authentication failed/.test(e));

async function loginScreen(page) {
  await page.waitForSelector('#login-form', { state: 'visible', timeout: 15000 });
}

async function logIn(page, user, password) {
  await page.fill('#login-username', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
}

/** Waits for the host node in the store and in the drawing; answers its ID. */
async function hostDrawn(page, timeout = 20000) {
  await until(page, () => window.__skydive?.perf.firstRenderAt > 0, null, timeout);
  return until(page, () => {
    const { store, view } = window.__skydive;
    const h = [...store.nodes.values()].find((n) => n.Metadata.Type === 'host');
    return h && view.canvas.hasNode(h.ID) ? h.ID : null;
  }, null, timeout);
}

// Every control that creates, deletes or runs something, by tab.
const CONTROLS = {
  captures: ['[data-resource=capture] details.create', '[data-resource=capture] button.danger'],
  generator: ['[data-resource=injectpacket] details.create'],
  alerts: ['[data-resource=alert] details.create'],
  workflows: ['#workflow-create-box', '#workflow-execute', '#workflow-delete'],
  rules: ['[data-resource=noderule] details.create', '[data-resource=edgerule] details.create'],
};

/** For each tab, each control: 'visible', 'hidden' or 'absent'. */
async function controls(page) {
  const out = {};
  for (const [tab, sels] of Object.entries(CONTROLS)) {
    await page.click(`#tab-${tab}`);
    // The tab's list is loaded (its table, or the workflow picked).
    await page.waitForSelector(tab === 'workflows' ? '#workflow-pick option' : '.tab-body table', { state: 'attached', timeout: 10000 });
    if (tab === 'workflows') await page.waitForSelector('[data-resource=workflow] .wf-title');
    for (const sel of sels) {
      const n = await page.locator(sel).count();
      out[sel] = n === 0 ? 'absent' : (await page.locator(sel).first().isVisible()) ? 'visible' : 'hidden';
    }
  }
  return out;
}

test('basic auth: login screen, wrong password, a guest without controls, an admin who creates a capture', { timeout: 180000 }, async (t) => {
  const an = await startAnalyzer(t, { config: authConfig, credentials: ['admin', users.admin] });
  // The server side the UI counts on: 401, and no Basic challenge for the UI's requests.
  const anon = await an.request('/api/status', { auth: null });
  assert.equal(anon.status, 401);
  assert.match(String(anon.headers['www-authenticate']), /Basic/);
  const ui401 = await an.request('/api/status', { auth: null, headers: { 'X-Skydive-UI': '1' } });
  assert.equal(ui401.status, 401);
  assert.equal(ui401.headers['www-authenticate'], undefined, 'no challenge for the UI');
  // A capture the admin made: the guest sees it, without its Stop button.
  const r = rand();
  const made = await an.request('/api/capture', { method: 'POST', body: { GremlinQuery: `G.V().Has('Name', 'none-${r}')`, Name: `by-admin-${r}` } });
  assert.ok(made.status < 300, `admin POST /api/capture: ${made.status} ${made.text}`);

  const ui = await uiURL(t, an);
  assert.equal(ui.servedBy, 'analyzer', 'the UI is public (static files need no credentials)');
  const { page, errors } = await launch(t);
  await page.goto(ui.url);

  // 1. The login screen, nothing drawn behind it.
  await loginScreen(page);
  assert.equal(await page.evaluate(() => window.__skydive.perf.firstRenderAt), 0, 'no topology before logging in');
  assert.ok(await page.isHidden('#user-box'), 'no logout button before logging in');
  assert.match(await page.textContent('#conn'), /not logged in/);
  await shot(page, 'auth-01-login.png');

  // 2. A wrong password: an error line, still on the login screen.
  await logIn(page, 'viewer', 'not-the-password');
  await page.waitForSelector('#login-error.error');
  assert.match(await page.textContent('#login-error'), /wrong user name or password/i);
  assert.ok(await page.isVisible('#login-form'));
  await shot(page, 'auth-02-wrong-password.png');

  // 3. The guest: the topology, and no control that changes something.
  await logIn(page, 'viewer', users.viewer);
  await page.waitForSelector('#login', { state: 'hidden' });
  const host = await hostDrawn(page);
  assert.ok(host, 'the host node is drawn');
  assert.ok(await page.isVisible('#logout'), 'a logout button');
  assert.match(await page.textContent('#user-name'), /viewer/);
  assert.equal(await page.textContent('#conn'), 'connected');
  const cookies = Object.fromEntries((await page.context().cookies()).map((c) => [c.name, c]));
  assert.ok(cookies.authtoken?.httpOnly, 'the authtoken cookie (HttpOnly)');
  const perms = JSON.parse(Buffer.from(cookies.permissions.value, 'base64').toString());
  assert.ok(perms.some((p) => p.Object === 'capture' && p.Action === 'write' && p.Allowed === false));
  const denied = (await page.evaluate(() => document.body.dataset.denied)).split(' ');
  for (const p of ['capture:write', 'injectpacket:write', 'alert:write', 'workflow:write', 'workflow.call:write', 'noderule:write', 'edgerule:write']) {
    assert.ok(denied.includes(p), `${p} denied to the guest`);
  }
  assert.ok(!denied.includes('capture:read'));

  const guest = await controls(page);
  for (const [sel, state] of Object.entries(guest)) assert.notEqual(state, 'visible', `the guest sees ${sel}`);
  // The admin's capture is listed for the guest, without Stop.
  await page.click('#tab-captures');
  await page.waitForSelector(`[data-resource=capture] tr:has-text("by-admin-${r}")`);
  assert.equal(guest['[data-resource=capture] button.danger'], 'hidden');
  assert.ok(await page.isVisible('[data-resource=capture] .perm-note'), 'a note says why');
  // The node details have no Capture… button either.
  await clickNode(page, host);
  await page.waitForSelector('.details .actions');
  assert.equal(await page.locator('.details button.capture-node').isVisible(), false, 'no Capture… in the details');
  await page.click('#tab-workflows');
  assert.ok(await page.isVisible('.perm-note:has-text("may not run workflows")'));
  await shot(page, 'auth-03-guest.png');

  // A refused action shows the server's 403, not nothing: the hidden capture
  // form submitted by hand.
  await page.click('#tab-captures');
  await page.evaluate((name) => {
    const f = document.querySelector('[data-resource=capture] details.create form');
    f.querySelector('[name=GremlinQuery]').value = "G.V().Has('Name', 'lo')";
    f.querySelector('[name=Name]').value = name;
    f.requestSubmit();
  }, `by-guest-${r}`);
  const refused = await page.waitForFunction(() => document.querySelector('[data-resource=capture] .msg.error')?.textContent, null, { timeout: 10000 }).then((h) => h.jsonValue());
  assert.match(refused, /^403: .*viewer.*capture/);
  assert.ok(!Object.values((await an.request('/api/capture')).json()).some((c) => c.Name === `by-guest-${r}`));

  // 4. Log out: the login screen again (the cookies are gone).
  await Promise.all([page.waitForNavigation(), page.click('#logout')]);
  await loginScreen(page);
  assert.ok(!(await page.context().cookies()).some((c) => c.name === 'authtoken'), 'logged out');

  // 5. The admin: every control, and a capture made in the UI.
  await logIn(page, 'admin', users.admin);
  await page.waitForSelector('#login', { state: 'hidden' });
  await hostDrawn(page);
  assert.match(await page.textContent('#user-name'), /admin/);
  assert.equal(await page.evaluate(() => document.body.dataset.denied), '');
  const admin = await controls(page);
  for (const [sel, state] of Object.entries(admin)) {
    // #workflow-delete shows only for a user's workflow (not the built-in one picked).
    if (sel === '#workflow-delete') assert.notEqual(state, 'absent');
    else assert.equal(state, 'visible', `the admin sees ${sel}`);
  }
  await page.click('#tab-captures');
  const cap = '[data-resource=capture]';
  await page.click(`${cap} details.create summary`);
  await page.fill(`${cap} input[name=GremlinQuery]`, "G.V().Has('Name', 'lo')");
  await page.fill(`${cap} input[name=Name]`, `by-ui-${r}`);
  await page.click(`${cap} button[type=submit]`);
  await page.waitForSelector(`${cap} tr:has-text("by-ui-${r}")`, { timeout: 10000 }).catch(async (e) => {
    throw new Error(`${e.message}; the form says ${await page.textContent(`${cap} form .msg`)}`);
  });
  const all = Object.values((await an.request('/api/capture')).json());
  const c = all.find((x) => x.Name === `by-ui-${r}`);
  assert.ok(c, `the capture is in the API: ${JSON.stringify(all.map((x) => x.Name))}`);
  assert.equal(c.GremlinQuery, "G.V().Has('Name', 'lo')");
  await shot(page, 'auth-04-admin-capture.png');
  assert.deepEqual(realErrors(errors), [], 'no page errors');
});

test('no auth on the server: no login screen, no logout button, every control', { timeout: 60000 }, async (t) => {
  const an = await startAnalyzer(t);
  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  await page.goto(ui.url);
  await hostDrawn(page);
  assert.ok(await page.isHidden('#login'), 'no login screen');
  assert.ok(await page.isHidden('#user-box'), 'no logout button');
  assert.equal(await page.evaluate(() => document.body.dataset.denied ?? ''), '');
  assert.equal(await page.locator('[data-resource=capture] details.create').isVisible(), true);
  assert.deepEqual(errors, [], 'no page errors');
});

/** A CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
function makeCerts(dir, tag) {
  const f = (n) => path.join(dir, n);
  sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-subj', `/CN=Skydive UI test CA ${tag}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  sh('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  sh('openssl', ['x509', '-req', '-sha256', '-days', '2', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-set_serial', `0x${Date.now().toString(16)}`, '-extfile', f('server.ext'), '-out', f('server.pem')]);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

/** A HOME with an NSS database (Chromium's trust store on Linux), trusting ca when given. */
function browserHome(t, ca) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'skydive-ui-home-'));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const db = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  sh('certutil', ['-d', `sql:${db}`, '-N', '--empty-password']);
  if (ca) sh('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'skydive-test-ca', '-i', ca]);
  return { home, db };
}

test('TLS end to end: the CA trusted in the profile NSS database; a profile without it is refused', { timeout: 120000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skydive-ui-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tag = rand();
  const pki = makeCerts(dir, tag);
  const an = await startAnalyzer(t, {
    config: { ...authConfig, tls: { server_cert: pki.cert, server_key: pki.key, ca_cert: pki.ca } },
    credentials: ['admin', users.admin],
    ca: fs.readFileSync(pki.ca),
  });
  assert.match(an.base, /^https:\/\/127\.0\.0\.1:\d+$/);
  const st = (await an.request('/api/status')).json();
  assert.equal(st.Security?.TLS, true, 'the analyzer says it speaks TLS');

  // The profile that trusts the CA: the page, the login over https, the
  // topology over wss.
  const trusted = browserHome(t, pki.ca);
  assert.match(sh('certutil', ['-d', `sql:${trusted.db}`, '-L']), /skydive-test-ca\s+C,,/);
  const { page, errors } = await launch(t, { home: trusted.home });
  const res = await page.goto(`${an.base}/`);
  assert.equal(res.status(), 200);
  const sec = await res.securityDetails();
  assert.equal(sec?.issuer, `Skydive UI test CA ${tag}`, 'the certificate is the test CA\'s');
  assert.equal(new URL(page.url()).protocol, 'https:');
  await loginScreen(page);
  await logIn(page, 'admin', users.admin);
  await page.waitForSelector('#login', { state: 'hidden' });
  const host = await hostDrawn(page);
  assert.ok(host);
  assert.equal(await page.textContent('#conn'), 'connected', 'the websocket (wss) is up');
  const secure = (await page.context().cookies()).find((c) => c.name === 'authtoken');
  assert.ok(secure?.secure, 'the session cookie is Secure over TLS');
  await shot(page, 'auth-05-tls-trusted.png');
  assert.deepEqual(realErrors(errors), [], 'no page errors');

  // A fresh profile without the CA: the certificate is refused.
  const bare = browserHome(t, null);
  const { page: page2 } = await launch(t, { home: bare.home });
  await assert.rejects(page2.goto(`${an.base}/`), /net::ERR_CERT_AUTHORITY_INVALID/);
  await shot(page2, 'auth-06-tls-untrusted.png');
});
