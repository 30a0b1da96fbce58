// A tiny markdown renderer for workflow descriptions: headings, paragraphs,
// fenced and inline code, bullet and numbered lists, **bold**, *emphasis*
// and http(s) links. It builds DOM nodes (text nodes for all the text), so
// nothing in the source is ever parsed as HTML.

import { h } from './dom';

type Inline = Node | string;

/** Inline spans: `code`, **bold**, *em* / _em_, [text](http…). */
export function inline(s: string): Inline[] {
  const out: Inline[] = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|\b_([^_\s][^_]*)_\b|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (m.index > last) out.push(s.slice(last, m.index));
    if (m[1] !== undefined) out.push(h('code', null, m[1]));
    else if (m[2] !== undefined || m[3] !== undefined) out.push(h('strong', null, inline(m[2] ?? m[3])));
    else if (m[4] !== undefined || m[5] !== undefined) out.push(h('em', null, inline(m[4] ?? m[5])));
    else out.push(h('a', { href: m[7], target: '_blank', rel: 'noopener noreferrer' }, m[6]));
    last = re.lastIndex;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

export function renderMarkdown(src: string): HTMLElement {
  const root = h('div', { class: 'markdown' });
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  let para: string[] = [];
  let list: { el: HTMLElement; ordered: boolean } | null = null;
  const flush = () => {
    if (para.length) root.appendChild(h('p', null, inline(para.join(' '))));
    para = [];
  };
  const endList = () => {
    if (list) root.appendChild(list.el);
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      flush();
      endList();
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence[1]); i++) code.push(lines[i]);
      root.appendChild(h('pre', { class: 'code' }, h('code', null, code.join('\n'))));
      continue;
    }
    if (!line.trim()) {
      flush();
      endList();
      continue;
    }
    const head = /^(#{1,6})\s+(.*)$/.exec(line);
    if (head) {
      flush();
      endList();
      const level = Math.min(6, head[1].length + 3); // small headings inside the panel
      root.appendChild(h(`h${level}` as 'h4', null, inline(head[2])));
      continue;
    }
    const item = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
    if (item) {
      flush();
      const ordered = item[2] !== undefined;
      if (!list || list.ordered !== ordered) {
        endList();
        list = { el: h(ordered ? 'ol' : 'ul'), ordered };
      }
      list.el.appendChild(h('li', null, inline(item[3])));
      continue;
    }
    if (list && /^\s+\S/.test(line)) {
      // continuation of the last item
      const li = list.el.lastElementChild!;
      li.append(' ', ...inline(line.trim()));
      continue;
    }
    endList();
    para.push(line.trim());
  }
  flush();
  endList();
  return root;
}
