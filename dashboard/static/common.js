// Shared helpers for every page: API calls with the session cookie and CSRF header,
// the navigation bar, time formatting. No external libraries.
"use strict";

const CE = (() => {
  function cookie(name) {
    const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
  }

  async function api(path, options = {}) {
    const opts = { credentials: "same-origin", ...options };
    opts.headers = { Accept: "application/json", ...(options.headers || {}) };
    if (opts.method && opts.method !== "GET") {
      opts.headers["X-CSRF-Token"] = cookie("ce_csrf");
      if (opts.body !== undefined && typeof opts.body !== "string") {
        opts.body = JSON.stringify(opts.body);
        opts.headers["Content-Type"] = "application/json";
      }
    }
    const response = await fetch(path, opts);
    if (response.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname);
      throw new Error("signed out");
    }
    if (!response.ok) {
      let reason = response.statusText;
      try { reason = (await response.json()).detail || reason; } catch (_) { /* not JSON */ }
      const err = new Error(typeof reason === "string" ? reason : JSON.stringify(reason));
      err.status = response.status;
      throw err;
    }
    return response;
  }

  async function json(path, options) {
    return (await api(path, options)).json();
  }

  const LINKS = [
    ["/", "Desk", ["operator", "admin"]],
    ["/live", "Live", ["ops", "operator", "admin"]],
    ["/cameras", "Cameras", ["ops", "operator", "admin"]],
    ["/recordings", "Recordings", ["investigator", "admin"]],
    ["/map", "Map", ["operator", "investigator", "ops", "admin"]],
    ["/audit", "Audit", ["admin"]],
  ];

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function nav() {
    const me = await json("/api/me");
    const header = document.querySelector("header.top");
    const links = el("nav", {}, LINKS.filter(([, , roles]) => roles.includes(me.role)).map(
      ([href, label]) => el("a", { href, class: location.pathname === href ? "active" : "" }, label)));
    // Sign-out ends the session on the server and needs the CSRF token like any write.
    const logout = el("form", { method: "post", action: "/auth/logout", class: "inline" },
      el("input", { type: "hidden", name: "csrf", value: cookie("ce_csrf") || "" }),
      el("button", { type: "submit" }, "Sign out"));
    header.append(links, el("span", { class: "spacer" }),
      el("span", { class: "who" }, `${me.name} · ${me.role}`), logout);
    return me;
  }

  function local(ts) {
    if (!ts) return "—";
    const d = new Date(ts);
    return isNaN(d) ? ts : d.toLocaleString();
  }

  function ago(ts) {
    if (!ts) return "—";
    const s = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
    if (isNaN(s)) return ts;
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.floor(s / 60)}m ago`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m ago`;
    return `${Math.floor(s / 86400)}d ago`;
  }

  function short(ts) {
    // Time only when it is today, date and time otherwise; the full stamp goes in a title.
    if (!ts) return "—";
    const d = new Date(ts);
    if (isNaN(d)) return ts;
    return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function pct(v) { return v === undefined || v === null ? "—" : (v * 100).toFixed(1) + "%"; }

  return { api, json, el, nav, local, short, ago, pct, cookie };
})();
