// The Workflows, Topology rules and Alerts panels against the real analyzer
// (skydive allinone, as root): the built-in CheckMTU across a veth pair, a
// workflow created from YAML and run with parameters, node and edge rules
// seen in the graph store, and an alert notified live when a veth goes down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAnalyzer, uiURL, launch, shot, sh, until, clickNode, rand } from './helpers.mjs';

const isRoot = process.getuid?.() === 0;
const CHECK_MTU = '85757b38-6e21-11e8-b42d-28d2442e1325';

/** Skips t (with the reason) when the analyzer does not serve /api/<resource>. */
async function served(t, an, resource) {
  const r = await fetch(`${an.base}/api/${resource}`);
  if (r.status === 404) {
    t.skip(`/api/${resource} answered 404: this analyzer has no ${resource} resource yet`);
    return false;
  }
  assert.equal(r.status, 200, `GET /api/${resource}`);
  return true;
}

async function openUI(t, an) {
  const ui = await uiURL(t, an);
  const { page, errors } = await launch(t);
  await page.goto(ui.url);
  await until(page, () => window.__skydive?.perf.firstRenderAt > 0, null, 20000);
  return { page, errors };
}

/** The ID of the node named name in the page's store (waits for it). */
const nodeID = (page, name, timeout = 10000) =>
  until(page, (n) => [...window.__skydive.store.nodes.values()].find((x) => x.Metadata.Name === n)?.ID, name, timeout);

function netnsCleanup(t, ...names) {
  t.after(() => {
    for (const ns of names) {
      try { sh('ip', ['netns', 'del', ns]); } catch { /* not made */ }
    }
  });
}

test('workflows panel: CheckMTU across a veth pair, a YAML workflow run with parameters', { skip: !isRoot && 'needs root (netns, veth)', timeout: 180000 }, async (t) => {
  const an = await startAnalyzer(t);
  if (!(await served(t, an, 'workflow'))) return;
  const r = rand();
  const [nsA, nsB, ifA, ifB] = [`uw${r}a`, `uw${r}b`, `uw${r}0`, `uw${r}1`];
  netnsCleanup(t, nsA, nsB);
  sh('ip', ['netns', 'add', nsA]);
  sh('ip', ['netns', 'add', nsB]);
  sh('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
  sh('ip', ['-n', nsA, 'link', 'set', ifA, 'up']);
  sh('ip', ['-n', nsB, 'link', 'set', ifB, 'up']);

  const { page, errors } = await openUI(t, an);
  // Both ends, linked by a layer2 edge (the path CheckMTU walks).
  const ids = await until(page, ([a, b]) => {
    const { store } = window.__skydive;
    const find = (n) => [...store.nodes.values()].find((x) => x.Metadata.Name === n);
    const na = find(a);
    const nb = find(b);
    if (!na || !nb) return null;
    const linked = [...store.edges.values()].some((e) => e.Metadata.RelationType === 'layer2' &&
      ((e.Parent === na.ID && e.Child === nb.ID) || (e.Parent === nb.ID && e.Child === na.ID)));
    return linked ? { a: na.ID, b: nb.ID } : null;
  }, [ifA, ifB], 15000);

  await page.click('#tab-workflows');
  await page.waitForSelector(`#workflow-pick option[value="${CHECK_MTU}"]`, { state: 'attached' });
  await page.selectOption('#workflow-pick', CHECK_MTU);
  // Title, abstract and the markdown description (headings, numbered lists, code).
  await page.waitForSelector('[data-resource=workflow] .wf-title:has-text("Check MTU")');
  assert.match(await page.textContent('[data-resource=workflow] p.abstract'), /MTU along the layer2 path/);
  await page.click('.wf-desc summary');
  assert.equal(await page.textContent('.wf-desc .markdown h4 >> nth=0'), 'How to use');
  assert.ok(await page.locator('.wf-desc .markdown ol li').count() >= 3, 'the numbered steps are a list');
  assert.equal(await page.locator('.wf-desc .markdown code').first().textContent(), 'true', '`true` is inline code');
  assert.ok(await page.isHidden('#workflow-delete'), 'a built-in workflow has no Delete button');
  // Parameters of type node: search by name picks the node.
  await page.fill('[data-param=source] input.node-search', ifA);
  await page.fill('[data-param=destination] input.node-search', ifB);
  assert.equal(await page.inputValue('[data-param=source] select.node-select'), ids.a);
  assert.equal(await page.inputValue('[data-param=destination] select.node-select'), ids.b);
  await page.click('#workflow-execute');
  await page.waitForFunction(() => document.querySelector('#workflow-result')?.textContent.trim() === 'true', null, { timeout: 20000 });
  assert.match(await page.textContent('#workflow-status'), /done/);
  await shot(page, 'panels-01-workflow-checkmtu.png');

  // Smaller MTU on the destination: false.
  sh('ip', ['-n', nsB, 'link', 'set', ifB, 'mtu', '1400']);
  await until(page, (id) => window.__skydive.store.nodes.get(id)?.Metadata.MTU === 1400, ids.b, 10000);
  await page.click('#workflow-execute');
  await page.waitForFunction(() => document.querySelector('#workflow-result')?.textContent.trim() === 'false', null, { timeout: 20000 });

  // A workflow from YAML, created in the panel, with every kind of parameter.
  const name = `UI-${r}`;
  const yaml = `Name: ${name}
Title: Greets ${r}
Abstract: Greets someone, counts the hosts.
Description: |
  Says **hello** with \`Greeting\`:
  - who: a name
  - times: doubled
Parameters:
  - Name: who
    Description: whom to greet
    Type: string
  - Name: times
    Type: integer
    Default: 1
  - Name: loud
    Type: boolean
  - Name: greeting
    Type: choice
    Default: hello
    Values:
      - Value: hello
      - Value: bonjour
        Description: in French
  - Name: where
    Type: node
Source: |
  function (who, times, loud, greeting, where) {
    if (times < 0) throw new Error("times must not be negative")
    var n = client.gremlin.G().V().Has('@ID', where).result()
    var s = greeting + " " + who
    return {Greeting: loud ? s.toUpperCase() : s, Double: times * 2, Where: n[0].Metadata.Name}
  }
`;
  await page.click('#workflow-create-box summary');
  // Invalid first: the server's 400 is shown next to the form.
  await page.fill('#workflow-source', `Name: bad-${r}\nSource: "function ("\n`);
  await page.click('#workflow-create');
  await page.waitForSelector('#workflow-create-msg.error');
  assert.match(await page.textContent('#workflow-create-msg'), /^400: /);
  await page.fill('#workflow-source', yaml);
  await page.click('#workflow-create');
  await page.waitForFunction((n) => document.querySelector('#workflow-pick')?.selectedOptions[0]?.textContent.includes(n), name, { timeout: 10000 });
  assert.match(await page.textContent('#workflow-create-msg'), new RegExp(`created ${name}`));
  assert.equal(await page.textContent('.wf-desc .markdown strong'), 'hello');
  assert.ok(await page.isVisible('#workflow-delete'));
  // Defaults are filled in.
  assert.equal(await page.inputValue('[data-param=times] input'), '1');
  assert.equal(await page.inputValue('[data-param=greeting] select'), 'hello');
  // A missing node is refused before calling.
  await page.fill('[data-param=who] input', 'browser');
  await page.click('#workflow-execute');
  await page.waitForFunction(() => /where: pick a node/.test(document.querySelector('#workflow-status')?.textContent));
  await page.fill('[data-param=times] input', '21');
  await page.check('[data-param=loud] input');
  await page.selectOption('[data-param=greeting] select', 'bonjour');
  // The node selected in the topology, taken with "◎ selected".
  const host = await page.evaluate(() => [...window.__skydive.store.nodes.values()].find((n) => n.Metadata.Type === 'host').ID);
  await clickNode(page, host);
  await page.click('[data-param=where] button:has-text("selected")');
  assert.equal(await page.inputValue('[data-param=where] select.node-select'), host);
  await page.fill('[data-param=where] input.node-search', ifA);
  assert.equal(await page.inputValue('[data-param=where] select.node-select'), ids.a);
  await page.click('#workflow-execute');
  const res = await page.waitForFunction(() => {
    const el = document.querySelector('#workflow-result.ok');
    try { return el && JSON.parse(el.textContent); } catch { return null; }
  }, null, { timeout: 20000 }).then((h) => h.jsonValue());
  assert.deepEqual(res, { Greeting: 'BONJOUR BROWSER', Double: 42, Where: ifA });
  await shot(page, 'panels-02-workflow-yaml.png');

  // A script error: the server's 400 with the JavaScript position as the result.
  await page.fill('[data-param=times] input', '-1');
  await page.click('#workflow-execute');
  await page.waitForSelector('#workflow-result.error');
  assert.match(await page.textContent('#workflow-result'), /^400: .*times must not be negative/s);
  await shot(page, 'panels-02b-workflow-error.png');

  // Delete it (confirmed): gone from the list.
  page.once('dialog', (d) => d.accept());
  await page.click('#workflow-delete');
  await page.waitForFunction((n) => ![...document.querySelectorAll('#workflow-pick option')].some((o) => o.textContent.includes(n)), name, { timeout: 10000 });
  assert.equal((await fetch(`${an.base}/api/workflow/${encodeURIComponent(name)}`)).status, 404);
  assert.deepEqual(errors, [], 'no page errors');
});

test('topology rules panel: node rules make nodes, an edge rule links them, deleting removes', { timeout: 120000 }, async (t) => {
  const an = await startAnalyzer(t);
  if (!(await served(t, an, 'noderule'))) return;
  const { page, errors } = await openUI(t, an);
  const r = rand();
  const [swA, swB] = [`sw-${r}-a`, `sw-${r}-b`];

  await page.click('#tab-rules');
  const nr = '[data-resource=noderule]';
  await page.waitForSelector(`${nr} table`);
  await page.click(`${nr} details.create summary`);
  assert.ok(await page.isHidden(`${nr} input[name=Query]`), 'the query is for update rules');

  // The server's refusal is shown next to the form: a create rule without Type.
  await page.fill(`${nr} input[name=Name]`, `bad-${r}`);
  await page.fill(`${nr} input[name=NodeName]`, `x-${r}`);
  await page.click(`${nr} button[type=submit]`);
  await page.waitForSelector(`${nr} .msg.error`);
  assert.match(await page.textContent(`${nr} .msg.error`), /^400: .*Type/);

  const createNode = async (rule, node, meta) => {
    await page.fill(`${nr} input[name=Name]`, rule);
    await page.fill(`${nr} input[name=Description]`, `made by the UI test ${r}`);
    await page.fill(`${nr} input[name=NodeName]`, node);
    await page.fill(`${nr} input[name=NodeType]`, 'switch');
    await page.fill(`${nr} input[name=Meta]`, meta);
    await page.click(`${nr} button[type=submit]`);
    await page.waitForFunction(([sel, n]) => document.querySelector(`${sel} table`)?.textContent.includes(n), [nr, rule], { timeout: 10000 });
  };
  await createNode(`rule-${swA}`, swA, 'Vendor=acme, Ports=48, Managed=true');
  await createNode(`rule-${swB}`, swB, 'Vendor=acme');
  const a = await until(page, (n) => [...window.__skydive.store.nodes.values()].find((x) => x.Metadata.Name === n && x.Metadata.Type === 'switch'), swA, 10000);
  assert.equal(a.Metadata.Vendor, 'acme');
  assert.equal(a.Metadata.Ports, 48, 'k=v numbers are numbers');
  assert.equal(a.Metadata.Managed, true, 'k=v booleans are booleans');
  const b = await nodeID(page, swB);
  assert.match(await page.textContent(`${nr} table`), new RegExp(`${swA} \\(switch\\)`));

  // An update rule shows the query field instead of name and type.
  await page.selectOption(`${nr} select[name=Action]`, 'update');
  assert.ok(await page.isVisible(`${nr} input[name=Query]`));
  assert.ok(await page.isHidden(`${nr} input[name=NodeName]`));
  await page.fill(`${nr} input[name=Name]`, `upd-${r}`);
  await page.fill(`${nr} input[name=Query]`, `G.V().Has('Name', '${swB}')`);
  await page.fill(`${nr} input[name=Meta]`, `Rack=r${r}`);
  await page.click(`${nr} button[type=submit]`);
  await until(page, ([id, v]) => window.__skydive.store.nodes.get(id)?.Metadata.Rack === v, [b, `r${r}`], 10000);

  // An edge rule between the two switches.
  const er = '[data-resource=edgerule]';
  await page.click(`${er} details.create summary`);
  assert.equal(await page.inputValue(`${er} input[name=RelationType]`), 'layer2');
  await page.fill(`${er} input[name=Name]`, `link-${r}`);
  await page.fill(`${er} input[name=Src]`, `G.V().Has('Name', '${swA}')`);
  await page.fill(`${er} input[name=Dst]`, `G.V().Has('Name', '${swB}')`);
  await page.fill(`${er} input[name=Meta]`, 'Speed=10000');
  await page.click(`${er} button[type=submit]`);
  await page.waitForFunction(([sel, n]) => document.querySelector(`${sel} table`)?.textContent.includes(n), [er, `link-${r}`], { timeout: 10000 });
  const edge = await until(page, ([pa, ch]) => [...window.__skydive.store.edges.values()].find((e) => e.Parent === pa && e.Child === ch), [a.ID, b], 10000);
  assert.equal(edge.Metadata.RelationType, 'layer2');
  assert.equal(edge.Metadata.Speed, 10000);
  // A click on the rule highlights both ends.
  await page.click(`${nr} tr:has-text("rule-${swA}") td >> nth=0`);
  await until(page, (id) => window.__skydive.view.hasClass(id, 'hl'), a.ID, 5000);
  // The highlighted switch is in the view (fit centres what it highlights).
  const inView = await page.evaluate((id) => {
    const c = window.__skydive.view.canvas;
    const p = c.renderedPosition(id);
    const { width, height } = c.size();
    return p && p.x >= 0 && p.y >= 0 && p.x <= width && p.y <= height;
  }, a.ID);
  assert.ok(inView, 'the highlighted node is in the view');
  await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
  await shot(page, 'panels-03-topology-rules.png');

  // Deleting the create rule removes its node (and so the edge).
  await page.locator(`${nr} tr`, { hasText: `rule-${swA}` }).locator('button:has-text("Delete")').click();
  await until(page, (n) => ![...window.__skydive.store.nodes.values()].some((x) => x.Metadata.Name === n), swA, 10000);
  await until(page, (id) => !window.__skydive.store.edges.has(id), edge.ID, 10000);
  await page.waitForFunction(([sel, n]) => !document.querySelector(`${sel} table`)?.textContent.includes(n), [nr, `rule-${swA}`], { timeout: 10000 });
  // Deleting the edge rule empties its list.
  await page.locator(`${er} tr`, { hasText: `link-${r}` }).locator('button:has-text("Delete")').click();
  await page.waitForFunction((sel) => document.querySelector(`${sel} td.empty`), er, { timeout: 10000 });
  await shot(page, 'panels-04-topology-rules-deleted.png');
  assert.deepEqual(errors, [], 'no page errors');
});

test('alerts panel: an alert created in the UI is notified live when a veth goes down', { skip: !isRoot && 'needs root (netns, veth)', timeout: 120000 }, async (t) => {
  const an = await startAnalyzer(t);
  if (!(await served(t, an, 'alert'))) return;
  const r = rand();
  const [ns, va, vb] = [`ua${r}`, `ua${r}va`, `ua${r}vb`];
  netnsCleanup(t, ns);
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['-n', ns, 'link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
  sh('ip', ['-n', ns, 'link', 'set', va, 'up']);
  sh('ip', ['-n', ns, 'link', 'set', vb, 'up']);

  const { page, errors } = await openUI(t, an);
  const vaID = await until(page, (n) => [...window.__skydive.store.nodes.values()].find((x) => x.Metadata.Name === n && x.Metadata.State === 'UP')?.ID, va, 15000);

  await page.click('#tab-alerts');
  const al = '[data-resource=alert]';
  await page.waitForSelector(`${al} table`);
  assert.match(await page.textContent('#alert-notes'), /No alert fired/);
  await page.click(`${al} details.create summary`);
  // An invalid expression: the server's 400 next to the form.
  await page.fill(`${al} input[name=Expression]`, 'G.V().Has(');
  await page.click(`${al} button[type=submit]`);
  await page.waitForSelector(`${al} .msg.error`);
  assert.match(await page.textContent(`${al} .msg.error`), /^400: .*Expression/);

  const name = `down-${r}`;
  await page.fill(`${al} input[name=Name]`, name);
  await page.fill(`${al} input[name=Description]`, 'the test veth went down');
  await page.fill(`${al} input[name=Expression]`, `G.V().Has('Name','${va}').Has('State','DOWN')`);
  await page.click(`${al} button[type=submit]`);
  await page.waitForFunction(([sel, n]) => document.querySelector(`${sel} table`)?.textContent.includes(n), [al, name], { timeout: 10000 });
  const row = await page.textContent(`${al} tr:has-text("${name}")`);
  assert.match(row, /graph/, 'the default trigger');
  assert.match(row, new RegExp(new Date().getFullYear()), 'the creation time');
  await shot(page, 'panels-05-alert-created.png');

  // Another tab in front: the notification counts on the Alerts tab's badge and shows a toast.
  await page.click('#tab-captures');
  const t0 = Date.now();
  sh('ip', ['-n', ns, 'link', 'set', va, 'down']);
  await page.waitForFunction(() => {
    const b = document.querySelector('#tab-alerts .badge');
    return b && !b.hidden && b.textContent === '1';
  }, null, { timeout: 5000 });
  t.diagnostic(`alert notified ${Date.now() - t0} ms after ip link set down`);
  await page.waitForSelector(`.toast:has-text("${name}")`);
  assert.match(await page.textContent(`.toast:has-text("${name}")`), new RegExp(va));
  await shot(page, 'panels-06-alert-badge-toast.png');

  await page.click('#tab-alerts');
  const note = page.locator('#alert-notes li.alert-note', { hasText: name });
  await note.waitFor();
  assert.match(await note.textContent(), new RegExp(`${va} \\(veth\\) DOWN`));
  assert.equal(await note.getAttribute('data-uuid'), await page.getAttribute(`${al} tr:has-text("${name}")`, 'data-uuid'));
  assert.ok(await page.isHidden('#tab-alerts .badge'), 'the badge is cleared once the panel is seen');
  assert.notEqual(await page.textContent(`${al} tr:has-text("${name}") td >> nth=5`), '', 'last fired is shown');
  await shot(page, 'panels-07-alert-notification.png');
  assert.ok(vaID);

  // Delete the alert.
  await page.locator(`${al} tr`, { hasText: name }).locator('button:has-text("Delete")').click();
  await page.waitForFunction(([sel, n]) => !document.querySelector(`${sel} table`)?.textContent.includes(n), [al, name], { timeout: 10000 });
  assert.equal(Object.keys(await (await fetch(`${an.base}/api/alert`)).json()).length, 0);
  assert.deepEqual(errors, [], 'no page errors');
});
