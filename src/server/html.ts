import { esc, REPORT_STYLE } from "../report/svg.js";

export { esc };

/** Tagged template for pages: every interpolated value is escaped unless it is already `Html`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = Html | string | number | null | undefined | readonly (Html | string)[];

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? "";
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? "");
  });
  return new Html(out);
}

/** Controls and bidi overrides a registry string may carry; shown as visible \uXXXX, never obeyed. */
const INVISIBLE =
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** Escaped text: markup characters as entities, controls made visible (a reviewer should see them). */
export function text(s: string): string {
  return esc(s).replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function render(v: Part): string {
  if (v === null || v === undefined) return "";
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map((x) => render(x)).join("");
  return text(String(v));
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;color:#1f2328}
header{background:#24292f;color:#fff;padding:10px 24px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none}header strong{margin-right:12px}header nav{display:flex;gap:20px;flex:1}
.nav-form{margin:0}.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:end}pre{overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere}
main{margin:20px auto;max-width:1000px;padding:0 16px}
table{border-collapse:collapse;font-size:14px;width:100%}td,th{border:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font-size:12px;word-break:break-all}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff;background:#6e7781}
.verified,.succeeded{background:#1a7f37}.unsupported,.failed{background:#cf222e}.undeclared{background:#9a6700}
.running{background:#0969da}.cancelled{background:#57606a}.muted{color:#57606a}
input[type=search]{padding:5px 8px;width:320px}.legend{list-style:none;padding:0;font-size:13px}
svg a:hover rect{stroke:#0969da;stroke-width:2}main>svg{max-width:100%;height:auto}`;

/**
 * The page frame. Its inline style and scripts run only with the request's CSP nonce. The nav offers
 * "Log out" to a browser session and "Log in" to anyone else, never both.
 */
export function page(title: string, nonce: string, body: Html, signedIn = false): string {
  const account = signedIn
    ? `<form method="post" action="/logout" class="nav-form"><button>Log out</button></form>`
    : `<a href="/login">Log in</a>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>${text(title)} · Pedigree</title>
<style nonce="${esc(nonce)}">${REPORT_STYLE}${STYLE}</style></head><body>
<header><strong>Pedigree</strong><nav><a href="/models">Models</a><a href="/graph">Graph</a><a href="/compare">Compare</a><a href="/jobs">Jobs</a><a href="/log">Log</a></nav>${account}</header>
<main>${body.text}</main></body></html>\n`;
}

export function badge(state: string): Html {
  return html`<span class="badge ${state}">${state}</span>`;
}
