// Small formatting helpers shared by the pages.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

export function when(seconds) {
  if (!seconds) return "never";
  const ago = Date.now() / 1000 - seconds;
  if (ago < 5) return "just now";
  if (ago < 60) return `${Math.round(ago)} s ago`;
  if (ago < 3600) return `${Math.round(ago / 60)} min ago`;
  return new Date(seconds * 1000).toLocaleString();
}

export function time(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString();
}

export function shortId(id) {
  return id ? id.slice(0, 10) : "";
}

// `headers`: column titles; a title starting with "#" is a number column (right-aligned).
export function table(caption, headers, rows) {
  const th = (h) => el("th", { scope: "col", class: h.startsWith("#") ? "num" : null, text: h.replace(/^#/, "") });
  return el("table", {},
    el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...headers.map(th))),
    el("tbody", {}, ...rows));
}
