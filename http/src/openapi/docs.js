// Renders the OpenAPI schema served beside this page (api.json) as browsable docs: operations
// grouped by tag, with their parameters, request bodies and responses. No external assets.
(function () {
  "use strict";
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const k of kids) e.append(k);
    return e;
  };
  const typeOf = (s) => {
    if (!s) return "";
    if (s.$ref) return s.$ref.split("/").pop();
    let t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || "any");
    if (s.format) t += " (" + s.format + ")";
    if (s.items) t += " of " + typeOf(s.items);
    if (s.enum) t += ": " + s.enum.join(", ");
    return t;
  };
  function fieldsTable(spec, ref) {
    const name = ref.split("/").pop();
    const schema = (spec.components.schemas || {})[name] || {};
    const req = new Set(schema.required || []);
    const rows = Object.entries(schema.properties || {}).map(([k, v]) =>
      el("tr", {}, el("td", {}, el("code", {}, k)), el("td", {}, typeOf(v)),
         el("td", {}, req.has(k) ? "required" : (v.readOnly ? "read-only" : (v.writeOnly ? "write-only" : "")))));
    return el("div", {}, el("span", { class: "muted" }, name),
      el("table", {}, el("tr", {}, el("th", {}, "field"), el("th", {}, "type"), el("th", {}, "")), ...rows));
  }
  function render(spec) {
    const byTag = new Map();
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const tag = (op.tags || ["other"])[0];
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push({ path, method, op });
      }
    }
    main.replaceChildren(el("h1", {}, spec.info.title + " " + spec.info.version),
      el("p", { class: "muted" }, "Components: " +
        Object.entries(spec.info["x-pulp-app-versions"] || {}).map(([k, v]) => k + " " + v).join(", ")));
    for (const tag of [...byTag.keys()].sort()) {
      const anchor = "tag-" + tag.replace(/[^A-Za-z0-9]+/g, "-");
      nav.append(el("a", { href: "#" + anchor }, tag));
      main.append(el("h2", { id: anchor }, tag));
      for (const { path, method, op } of byTag.get(tag)) {
        const sec = el("section", { class: "op", id: op.operationId },
          el("div", {}, el("span", { class: "method " + method }, method), el("span", { class: "path" }, path)),
          el("div", { class: "muted" }, el("code", { class: "operation-id" }, op.operationId),
            op.security ? " · requires authentication" : ""));
        const params = op.parameters || [];
        if (params.length) {
          sec.append(el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type")),
            ...params.map((p) => el("tr", {}, el("td", {}, el("code", {}, p.name + (p.required ? " *" : ""))),
              el("td", {}, p.in), el("td", {}, typeOf(p.schema))))));
        }
        if (op.requestBody) {
          const types = Object.keys(op.requestBody.content);
          const ref = op.requestBody.content[types[0]].schema.$ref;
          sec.append(el("div", {}, el("strong", {}, "Request body "), el("span", { class: "muted" }, types.join(", "))));
          if (ref) sec.append(fieldsTable(spec, ref));
        }
        for (const [status, r] of Object.entries(op.responses || {})) {
          const c = r.content && r.content["application/json"];
          sec.append(el("div", {}, el("strong", {}, status + " "), c ? typeOf(c.schema) : (r.description || "")));
        }
        main.append(sec);
      }
    }
  }
  fetch("api.json" + window.location.search)
    .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(render)
    .catch((e) => { document.getElementById("status").textContent = "Could not load the schema: " + e; });
})();
