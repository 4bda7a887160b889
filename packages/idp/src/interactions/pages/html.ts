/** HTML-escapes text for element content and quoted attributes. Every dynamic value in a page goes through this. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A tagged template whose interpolations are escaped unless already marked safe. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    const parts = Array.isArray(value) ? value : [value];
    for (const part of parts) {
      if (part === undefined || part === null || part === false) continue;
      out += part instanceof SafeHtml ? part.value : escapeHtml(String(part));
    }
    out += strings[i + 1] ?? '';
  });
  return new SafeHtml(out);
}

/** The page frame; `head` adds elements to <head> (the device page's script and CSRF meta). */
export function layout(title: string, body: SafeHtml, head?: SafeHtml): string {
  return `<!doctype html>${
    html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · Palisade</title>
<link rel="stylesheet" href="/assets/palisade.css">
${head}
</head>
<body>
<header class="topbar"><span class="brand" aria-label="Palisade">▮▮▮ Palisade</span><span class="realm">Company sign-in</span></header>
<main class="card" id="main">
${body}
</main>
<footer class="foot">Protected by Palisade · Never enter your password on a page whose address you do not recognise.</footer>
</body>
</html>`.value
  }`;
}
