#!/usr/bin/env python3
"""Generates the endpoint table of the SDK, the emulator's catalog and the resources page from the
API catalog in catalog/ (endpoints.tsv, params.tsv, openapi.reconstructed.json):

    python3 tools/gen_endpoints.py [CATALOG_DIR]      (default: catalog/ of this repository)

Outputs (committed; run this again after the catalog changes and review the diff):
    lua/coze/endpoints.lua               one row per operation: method, path, where each field goes,
                                         types, paging, stream profile, `idempotent` for reads
    spec/emulator/emu/catalog_data.lua   a response sample and the paging layout per operation
    docs/resources.md                    the table of every method, with examples
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOG = os.path.join(ROOT, "catalog")

ENDPOINTS_LUA = os.path.join("lua", "coze", "endpoints.lua")
CATALOG_DATA_LUA = os.path.join("spec", "emulator", "emu", "catalog_data.lua")
RESOURCES_MD = os.path.join("docs", "resources.md")

BODYLESS = {"GET", "HEAD"}

# Paging details per operation: where the list sits in the result and what the page fields are called.
# Defaults per scheme live in lua/coze/pager.lua (page_num: page_num/page_size, items/has_more/total;
# page_index: page_index/page_size; page_token: page_token/page_size -> next_page_token/has_more;
# first_last_id: before_id/after_id/limit -> first_id/last_id/has_more, items "data";
# page_size_body: page/size in the body, items document_infos, total).
# "guess" marks operations whose response has no schema in the catalog (docs-only pages lost their
# tables); names come from the official SDKs where they implement the call, and the pager falls back
# to the only list in the result when the named key is absent.
PAGING = {
    "bots.list": {"items": "items", "total": "total"},                      # coze-py _PrivateListBotsDataV2
    "bots.list_published_v1": {"items": "space_bots", "total": "total"},     # spec
    "bots.versions.list": {"items": "items", "total": "total"},             # coze-py (spec data clobbered)
    "apps.list": {"items": "items", "total": "total"},                      # coze-py (spec data clobbered)
    "workspaces.list": {"items": "workspaces", "total": "total_count"},     # coze-py
    "workspaces.members.list": {"items": "items", "total": "total_count", "guess": True},
    "folders.list": {"items": "items", "total": "total_count"},             # spec (has_more too)
    "enterprises.organizations.list": {"items": "items", "guess": True},
    "organizations.members.list": {"items": "items", "guess": True},
    "conversations.list": {"items": "conversations"},                       # spec (has_more)
    "conversations.messages.list": {"items": "data"},                       # spec: first_id/last_id/has_more top level
    "workflows.list": {"items": "items"},                                   # spec (has_more)
    "workflows.versions.list": {"items": "items"},                          # spec
    "audio.voiceprint_groups.features.list": {"items": "items", "total": "total"},  # coze-py
    "audio.voiceprint_groups.list": {"items": "items", "total": "total"},   # coze-py
    "audio.voices.list": {"items": "voice_list"},                           # spec (has_more)
    "datasets.documents.list": {"items": "document_infos", "total": "total"},  # spec (top level)
    "datasets.images.list": {"items": "photo_infos", "total": "total_count"},  # spec
    "datasets.list": {"items": "dataset_list", "total": "total_count"},     # spec
    "stores.categories.list": {"items": "items", "guess": True},
    "stores.plugins.list": {"items": "items", "guess": True},
    "commerce.benefit_limitations.list": {"items": "benefit_infos", "next_token": "page_token", "guess": True},
    "commerce.bill_tasks.list": {"items": "task_infos", "total": "total", "guess": True},
    "api_apps.events.list": {"items": "items"},                             # coze-py (next_page_token, has_more)
    "api_apps.list": {"items": "items"},                                    # coze-py
}

# SDK names that differ from the catalog's, where coze-py, coze-js and coze-go agree on another one:
# all three call the streaming resume (/v1/workflow/stream_resume) `runs.resume`; the non-streaming
# /v1/workflows/resume, which none of them has, answers one JSON result like runs:create next to
# runs:stream, hence `resume_sync`. The row keeps the catalog's name in `catalog`.
RENAMES = {
    "workflows.runs.stream_resume": "workflows.runs.resume",
    "workflows.runs.resume": "workflows.runs.resume_sync",
}

# Params the pager fills in; never "required" of the caller even where the spec says so.
PAGER_PARAMS = {"page_num", "page_index", "page_size", "page_token", "page", "size", "before_id", "after_id", "limit"}

# Responses whose spec schema is the clobbered shared `properties_data` (see notes): samples by hand.
FIXED_SAMPLES = {
    "bots.create": {"bot_id": "7390029769854844001"},
    "files.upload": {"id": "7390029769854844001", "bytes": 1024, "created_at": 1718000000, "file_name": "a.txt"},
    "audio.rooms.create": {"room_id": "7390029769854844001", "app_id": "6000000000000001", "token": "rtc_token",
                           "uid": "7390029769854844002"},
    "audio.voices.clone": {"voice_id": "7390029769854844001"},
    "api_apps.create": {"id": "7390029769854844001", "app_type": "normal", "verify_token": "vt_1", "name": "cb"},
    "enterprises.organizations.create": {"organization_id": "7390029769854844001"},
    "commerce.benefit_limitations.create": {"benefit_info": {"id": "7390029769854844001"}},
    "users.me": {"user_id": "7390029769854844001", "user_name": "emu", "nick_name": "Emu", "avatar_url": ""},
    "templates.duplicate": {"entity_id": "7390029769854844001", "entity_type": "agent"},
    "audio.live.retrieve": {"app_id": "6000000000000001", "stream_infos": []},
}

def read_tsv(api, name):
    with open(os.path.join(api, name), encoding="utf-8") as f:
        lines = f.read().split("\n")
    head = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        if not line.strip():
            continue
        cells = line.split("\t")
        cells += [""] * (len(head) - len(cells))
        rows.append(dict(zip(head, cells)))
    return rows


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_key(k):
    return k if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k) else "[" + lua_str(k) + "]"


def lua_val(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return lua_str(v)
    if isinstance(v, list):
        return "{ " + ", ".join(lua_val(x) for x in v) + " }"
    if isinstance(v, dict):
        return "{ " + ", ".join(lua_key(k) + " = " + lua_val(v[k]) for k in v) + " }"
    raise TypeError(v)


# --- field shapes ----------------------------------------------------------------------------------
# A field's shape in endpoints.lua: "string" | "integer" | "number" | "boolean" | "any" | "array" |
# "object" | "map", or a table when there is more to say: { "array", <item shape> },
# { "map", <value shape> }, { "object", { name = <shape>, ... }, message = true } (message: a chat
# message, content + content_type, whose object_string content the SDK encodes). The same readings
# as the emulator's validator (spec/emulator/emu/validate.lua): the OpenAPI schema when the catalog has
# the path, else params.tsv (obj:<Name> rows are the nested objects).

SCALARS = ("string", "integer", "number", "boolean")
MAX_DEPTH = 4


def simplify(shape):
    """The compact form: containers with nothing more to say become their bare name."""
    if isinstance(shape, tuple):
        kind = shape[0]
        if kind == "array" and shape[1] == "any":
            return "array"
        if kind == "map" and shape[1] == "any":
            return "map"
        if kind == "object" and not shape[1] and not shape[2]:
            return "object"
    return shape


def from_openapi(schema, comps, seen=(), depth=0):
    if not isinstance(schema, dict):
        return "any"
    ref = schema.get("$ref")
    if ref:
        name = ref.split("/")[-1]
        if name in seen or name not in comps:
            return "any"
        return from_openapi(comps[name], comps, seen + (name,), depth)
    t = schema.get("type")
    if t in SCALARS:
        return t
    if depth >= MAX_DEPTH:
        return {"array": "array", "object": "object"}.get(t, "any")
    if t == "array":
        return simplify(("array", from_openapi(schema.get("items"), comps, seen, depth + 1)))
    if t == "object":
        props = schema.get("properties")
        if isinstance(props, dict) and props:
            sub = {k: from_openapi(v, comps, seen, depth + 1) for k, v in sorted(props.items())}
            sub = {k: v for k, v in sub.items() if v != "any"}
            return simplify(("object", sub, "content" in props and "content_type" in props))
        if isinstance(schema.get("additionalProperties"), dict):
            return simplify(("map", from_openapi(schema["additionalProperties"], comps, seen, depth + 1)))
        return "object"
    return "any"


def from_tsv(text, objs, seen=()):
    low = text.strip().lower()
    if low in ("string", "string(i64)") or (low.startswith("string(") and low != "string(binary)"):
        return "string"
    if low in ("integer", "interger", "long", "int"):
        return "integer"
    if low in ("number", "float", "double"):
        return "number"
    if low in ("boolean", "bool"):
        return "boolean"
    m = re.match(r"^array of (.+)$", text.strip(), re.I) or re.match(r"^array<(.+)>$", text.strip())
    if m:
        item = m.group(1)
        name = (re.match(r"^object\((.+)\)$", item) or [None, item])[1]
        if name in objs and name not in seen:
            return simplify(("array", obj_shape(name, objs, seen + (name,))))
        return simplify(("array", from_tsv(item, objs, seen)))
    m = re.match(r"^Object of (.+)$", text.strip()) or re.match(r"^object\((.+)\)$", text.strip())
    if m:
        if m.group(1) in objs and m.group(1) not in seen:
            return obj_shape(m.group(1), objs, seen + (m.group(1),))
        return "object"
    if low == "map<string,string>":
        return ("map", "string")
    if low == "object" or low.startswith("map"):
        return "object"
    if low.startswith("array"):
        return "array"
    return "any"


def obj_shape(name, objs, seen):
    sub = {k: from_tsv(t, objs, seen) for k, t in sorted(objs[name].items())}
    sub = {k: v for k, v in sub.items() if v != "any"}
    return simplify(("object", sub, "content" in sub and "content_type" in sub))


def body_shapes(e, ps, openapi):
    """name -> shape of every body field, and whether the body itself is a chat message."""
    op = openapi["paths"].get(e["path"], {}).get(e["method"].lower())
    if op and e["content_type"] == "json":
        js = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
        if js:
            s = from_openapi(js.get("schema"), openapi["components"]["schemas"])
            if isinstance(s, tuple) and s[0] == "object":
                return dict(s[1]), s[2]
    objs = {}
    for p in ps:
        if p["location"].startswith("obj:"):
            objs.setdefault(p["location"][4:], {})[p["name"]] = p["type"]
    out = {p["name"]: from_tsv(p["type"], objs) for p in ps if p["location"] in ("body", "form")}
    return out, "content" in out and "content_type" in out


def query_shape(e, name, p, openapi):
    op = openapi["paths"].get(e["path"], {}).get(e["method"].lower())
    for q in (op or {}).get("parameters", []):
        if q.get("in") == "query" and q.get("name") == name and isinstance(q.get("schema"), dict):
            t = q["schema"].get("type")
            if t in SCALARS:
                return t
            if t == "array":
                return simplify(("array", q["schema"].get("items", {}).get("type", "any")
                                 if isinstance(q["schema"].get("items"), dict) else "any"))
    return from_tsv(p["type"], {})


class Shapes:
    """Shared named shapes (S.<Name> in endpoints.lua), so a message shape is written once."""

    def __init__(self):
        self.by_key = {}
        self.order = []

    def key(self, shape):
        return repr(shape)

    def lua(self, shape, hint="x"):
        if isinstance(shape, str):
            return lua_str(shape)
        if shape[0] in ("array", "map"):
            return "{ " + lua_str(shape[0]) + ", " + self.lua(shape[1], hint) + " }"
        k = self.key(shape)
        if k not in self.by_key:
            props = ", ".join(lua_key(n) + " = " + self.lua(v, n) for n, v in shape[1].items())
            text = "{ \"object\", { " + props + " }" + (", message = true" if shape[2] else "") + " }"
            name = re.sub(r"[^A-Za-z0-9_]", "_", hint)
            base, i = name, 2
            while any(n == name for n, _ in self.by_key.values()):
                name, i = "%s%d" % (base, i), i + 1
            self.by_key[k] = (name, text)
            self.order.append(k)
        return "S." + self.by_key[k][0]

    def defs(self):
        return "".join("S.%s = %s\n" % self.by_key[k] for k in self.order)


# --- openapi samples -------------------------------------------------------------------------------

ID = "7390029769854844001"


class Samples:
    """Response samples from openapi.reconstructed.json."""

    def __init__(self, api):
        with open(os.path.join(api, "openapi.reconstructed.json"), encoding="utf-8") as fh:
            spec = json.load(fh)
        self.spec = spec
        self.schemas = spec["components"]["schemas"]
        self.by_opid = {}
        for ms in spec["paths"].values():
            for op in ms.values():
                if isinstance(op, dict) and op.get("operationId"):
                    self.by_opid[op["operationId"]] = op

    def resolve(self, s):
        seen = 0
        while isinstance(s, dict) and "$ref" in s and seen < 10:
            s = self.schemas.get(s["$ref"].split("/")[-1], {})
            seen += 1
        return s if isinstance(s, dict) else {}


    def sample(self, s, name="", depth=0):
        s = self.resolve(s)
        t = s.get("type")
        ex = s.get("x-coze-example")
        if "properties" in s or t == "object":
            if depth >= 3:
                return {}
            return {k: self.sample(v, k, depth + 1) for k, v in sorted(s.get("properties", {}).items())}
        if t == "array":
            if depth >= 3:
                return []
            return [self.sample(s.get("items", {}), name, depth + 1)]
        if t == "integer":
            try:
                return int(ex)
            except (TypeError, ValueError):
                return 0
        if t == "number":
            try:
                return float(ex)
            except (TypeError, ValueError):
                return 0.0
        if t == "boolean":
            return ex in ("true", True)
        if name == "id" or name.endswith("_id"):
            return ID
        if isinstance(ex, str) and len(ex) <= 80:
            return ex
        return ""


    def response_schema(self, op):
        try:
            return self.resolve(op["responses"]["200"]["content"]["application/json"]["schema"])
        except (KeyError, TypeError):
            return {}


# --- rows ------------------------------------------------------------------------------------------

def in_scope(e):
    if e["group"] == "auth":
        return "OAuth flows live in coze.auth (not resource methods)"
    if e["response"] in ("ws", "redirect"):
        return "websocket (coze.websocket)" if e["response"] == "ws" else "browser redirect URL"
    if e["operation"].startswith("websdk."):
        return "not an HTTP API (JS SDK config pseudo-operation)"
    return None


# Reads are safe to replay even when the API makes them POSTs (message and document lists, the
# document progress query): the client retries them like GETs.
POST_READS = {"datasets.documents.progress"}


def is_read(e, name):
    last = name.rsplit(".", 1)[-1]
    return (e["method"] in BODYLESS or e["paginated"] != "none" or last == "list" or last.endswith("retrieve")
            or name in POST_READS)


def build(api):
    """The catalog as (rows, skipped, emu_ops, decisions): rows for endpoints.lua (op, method, path,
    fields), rows left out with the reason, the emulator's entries, and the decisions taken."""
    endpoints = read_tsv(api, "endpoints.tsv")
    params = read_tsv(api, "params.tsv")
    samples = Samples(api)
    params_by_op = {}
    for p in params:
        params_by_op.setdefault(p["operation"], []).append(p)
    decisions = []
    skipped = []
    rows = []      # for endpoints.lua: (op, method, path, fields dict)
    emu_ops = []   # for catalog_data.lua

    for e in endpoints:
        why = in_scope(e)
        if why:
            skipped.append((e["operation"], e["method"], e["path"], why))
            continue
        opkey, method, path, notes = e["operation"], e["method"], e["path"], e["notes"]
        ps = params_by_op.get(opkey, [])
        query, required, types, headers = [], [], {}, {}
        path_names = re.findall(r"{([A-Za-z0-9_]+)}", path)
        top_extra = []
        bshapes, is_message = body_shapes(e, ps, samples.spec)
        for p in ps:
            loc, name = p["location"], p["name"]
            if loc == "header":
                if name.strip().lower() == "authorization":
                    continue
                headers[name] = p["enum"] or "str"
                continue
            if loc == "response":
                if "." not in name and name not in ("code", "msg", "detail", "data"):
                    top_extra.append(name)
                continue
            if loc not in ("query", "body", "form", "path"):
                continue
            if e["content_type"] == "multipart" and name in ("Data", "body"):
                continue  # phantom required[] names of multipart specs (notes)
            if loc == "query" and name not in query:
                query.append(name)
            if loc == "query":
                types[name] = query_shape(e, name, p, samples.spec)
            elif loc != "path":
                types[name] = bshapes.get(name, "any")
            if p["required"] == "yes" and loc != "path" and name not in required:
                if e["paginated"] != "none" and name in PAGER_PARAMS:
                    decisions.append("%s: '%s' is required in the spec; the pager always sends it (first page "
                                     "1), so callers may leave it out" % (opkey, name))
                else:
                    required.append(name)
        # Headers the notes require ("requires header Agw-Js-Conv: str") where the spec does not list them
        # (the emulator's validator reads the same notes).
        for hname, hvalue in re.findall(r"requires header ([A-Za-z0-9-]+): (\w+)", notes):
            if not any(h.lower() == hname.lower() for h in headers):
                headers[hname] = hvalue
        # The OpenAI-style completions body has no rows; the notes name its fields.
        m = re.search(r"OpenAI-style body \(([^)]*)\)", notes)
        for name in re.split(r"[,|]\s*", m.group(1)) if m else []:
            types.setdefault(name.strip(), "any")
        for name in bshapes:  # schema fields params.tsv lacks: known (and typed) too
            if name not in types and name not in path_names:
                types[name] = bshapes[name]
        f = {}
        if query:
            f["query"] = query
        if is_message:
            f["message"] = True
        if required:
            f["required"] = required
        if types:
            f["types"] = types
        if headers:
            f["headers"] = headers
        if e["content_type"] == "multipart":
            f["body"] = "multipart"
        elif e["content_type"] == "none" and method not in BODYLESS:
            f["body"] = "none"
        if e["response"] == "binary":
            f["response"] = "binary"

        # result key
        result = None
        if top_extra and e["response"] in ("json",):
            has_data = any(p["location"] == "response" and p["name"] == "data" for p in ps)
            if len(top_extra) == 1 and not has_data:
                result = top_extra[0]
            else:
                result = "body"
        if opkey == "chat.completions.create":
            result = "body"
        if result:
            f["result"] = result

        # paging
        if e["paginated"] != "none":
            pg = dict(PAGING.get(opkey.split("|")[0], {"items": "items", "guess": True}))
            guess = pg.pop("guess", False)
            f["paging"] = e["paginated"]
            for k, v in pg.items():
                f[k] = v
            if guess:
                decisions.append("%s: no response schema in the catalog; list key '%s' follows the SDKs or the "
                                 "house convention, and the pager falls back to the only list in the result"
                                 % (opkey, pg.get("items")))

        ops = opkey.split("|")
        variants = []
        if e["response"] == "json|sse":
            if len(ops) == 1:
                base = ops[0]
                ops = [base, base.rsplit(".", 1)[0] + ".stream"]
                decisions.append("%s: json|sse with one name: the streaming twin is %s" % (base, ops[1]))
            profile = "completions" if opkey.startswith("chat.completions") else "chat"
            variants = [(ops[0], {"set": {"stream": False}}), (ops[1], {"set": {"stream": True}, "stream": profile})]
        elif e["response"] == "sse":
            profile = "workflow" if opkey in ("workflows.runs.stream", "workflows.runs.stream_resume") else "chat"
            variants = [(ops[0], {"stream": profile})]
        else:
            variants = [(o, {}) for o in ops]
        variants = [(RENAMES.get(o, o), dict(x, catalog=o) if o in RENAMES else x) for o, x in variants]

        # emulator sample
        op_spec = samples.by_opid.get(e["operation_id"]) if e["operation_id"] else None
        data_sample, body_sample = None, None
        distrust = "do not trust it" in notes
        if ops[0] in FIXED_SAMPLES:
            data_sample = FIXED_SAMPLES[ops[0]]
        elif op_spec and not distrust:
            rs = samples.response_schema(op_spec)
            props = rs.get("properties", {})
            if result and result != "data":
                body_sample = {k: samples.sample(v, k) for k, v in sorted(props.items()) if k not in ("code", "msg", "detail")}
            elif "data" in props:
                data_sample = samples.sample(props["data"], "data")
            else:
                data_sample = {}
        else:
            data_sample = {}
        if result and result not in ("data", "body") and body_sample is None:
            body_sample = {result: data_sample if data_sample is not None else {}}
        if result == "body" and body_sample is None:
            body_sample = {"data": data_sample if data_sample is not None else {}}

        for name, extra in variants:
            g = dict(f)
            g.update(extra)
            if is_read(e, name):
                g["idempotent"] = True
            rows.append((name, method, path, g))
            emu = {"op": name, "method": method, "path": path,
                   "kind": e["response"] if e["response"] != "json|sse" else ("sse" if extra.get("stream") else "json")}
            if extra.get("stream"):
                emu["kind"] = "sse"
                emu["profile"] = extra["stream"]
            if e["response"] == "json|sse":
                emu["either"] = True
            if body_sample is not None:
                emu["body_json"] = json.dumps(body_sample, ensure_ascii=False, separators=(",", ":"))
            else:
                emu["data_json"] = json.dumps(data_sample, ensure_ascii=False, separators=(",", ":"))
            if "paging" in g:
                item = None
                src = (body_sample or {}) if body_sample is not None else data_sample
                it = src.get(g.get("items")) if isinstance(src, dict) else None
                if isinstance(it, list) and it and isinstance(it[0], dict):
                    item = it[0]
                if item is None:
                    item = {"id": ID, "name": "item"}
                emu["paging"] = {k: g[k] for k in ("paging", "items", "total", "next_token") if k in g}
                # which of has_more / total the real answer carries (spec or SDK model)
                emu["paging"]["has_more"] = "total" not in g or name == "folders.list"
                emu["paging"]["top"] = bool(result == "body")
                emu["item_json"] = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
            emu_ops.append(emu)

    # catalog-vs-spec decisions that are not derived above
    decisions += [
        "chat.retrieve: GET with ids in the query (spec and docs); coze-py's POST is not followed",
        "conversations.messages.retrieve: GET (spec and docs); coze-java's POST is not followed",
        "conversations.messages.create / delete, chat.create, chat.submit_tool_outputs, conversations.messages.list: "
        "ids named as query params by the spec go to the query string of the POST (notes agree)",
        "DELETE rows with content_type json send a JSON body ({} when empty, as the spec declares); DELETE rows "
        "with content_type none send no body and put their fields in the query",
        "files.upload / audio.transcriptions.create: the multipart field is `file` (notes); the phantom required "
        "names `Data` / `body` of the spec are dropped",
        "conversations.messages.update: the result is the top-level `message` (not `data`); "
        "datasets.documents.create: the top-level `document_infos`",
        "workflows.runs.create / resume_sync, conversations.messages.list, datasets.documents.list: result = body "
        "(top-level fields next to or instead of `data`)",
        "workflows.chat.stream: always SSE with chat-style events (profile chat), although the spec declares JSON",
        "workflows.runs.stream / resume (catalog: stream_resume): SSE with the workflow profile (spec models the "
        "events as JSON)",
        "workflows.runs.resume is the streaming resume, as coze-py/js/go name it; the catalog's non-streaming "
        "workflows.runs.resume is resume_sync here (one JSON answer, like runs:create next to runs:stream)",
        "audio.speech.create: raw audio bytes (response = binary), not the spec's {data:{content}} object",
        "conversations.messages.list paging: next page with after_id = last_id (docs: 向后翻页), or "
        "before_id = first_id when the caller started with before_id (docs: 向前翻页)",
        "responses whose spec `data` is the clobbered shared properties_data are not sampled from the spec; the "
        "emulator uses small hand-written samples instead",
        "path params are always required, even where params.tsv marks them optional (connectors.bots.update, "
        "commerce.benefit_limitations.update, api_apps.events.list, speaker_identify)",
    ]
    return rows, skipped, emu_ops, decisions


# --- endpoints.lua -----------------------------------------------------------------------------------

HEADER = """-- GENERATED by tools/gen_endpoints.py from the API catalog in catalog/ (endpoints.tsv, params.tsv,
-- openapi.reconstructed.json); edit the generator or the catalog, not this file.
-- Every HTTP operation of the Coze API, one line each; coze.resources builds the client's
-- resource objects from it. Fields:
--   [1] operation ("a.b.c" becomes client.a.b:c{...}), [2] HTTP method, [3] path ({name} = path param)
--   catalog   the catalog's name of the operation, where the SDK uses the official SDKs' name instead
--   query     names taken from the options into the query string (everything else goes to the body;
--             for methods without a body, and rows with body = "none", to the query string)
--   required  names that must be present (path params always are)
--   types     every field the operation takes, name -> shape: "string" | "integer" | "number" |
--             "boolean" | "array" | "object" | "map" | "any", or { "array", item }, { "map", value },
--             { "object", { name = shape, ... }, message = true } (S.* below). prepare() sends arrays as
--             JSON arrays (also empty), ids typed string as exact decimal text, and raises on the rest
--   message   the body is a chat message (content + content_type): object_string content may be a table
--   set       body fields the operation forces (e.g. stream = true)
--   stream    SSE framing profile ("chat", "workflow", "completions") when the answer is a stream
--   response  "json" (default, Coze envelope) or "binary" (raw bytes, e.g. audio)
--   result    envelope key returned ("data" by default; "body" = the whole decoded body)
--   headers   fixed request headers
--   body      "json" (default), "multipart" (multipart/form-data: the `file` field is a path, a
--             { path | data, filename, type } table, or content / file_name / content_type) or
--             "none" (no request body)
--   idempotent  true for reads (every GET, lists and retrieves also when the API makes them POSTs):
--             failed attempts are retried like GETs
--   paging    "page_num" | "page_index" | "page_token" | "first_last_id" | "page_size_body": the call
--             returns a coze.pager Page; items / total / has_more / next_token name the result's fields
--             (key paths, "a.b"), page_param / size_param / token_param the request's (defaults per
--             scheme in coze/pager.lua)
"""

ORDER = ["catalog", "query", "required", "types", "message", "headers", "body", "idempotent", "set", "stream", "response", "result",
         "paging", "items", "total", "has_more", "next_token", "page_param", "size_param", "token_param"]


def endpoints_lua(rows, skipped, decisions):
    shapes = Shapes()
    body = []
    for name, method, path, g in rows:
        parts = [lua_str(name), lua_str(method), lua_str(path)]
        for k in ORDER:
            if k in g and k != "types":
                parts.append(k + " = " + lua_val(g[k]))
        line = "  { " + ", ".join(parts)
        if "types" in g:  # long: on its own continuation line
            line += ",\n    types = { " + ", ".join(lua_key(n) + " = " + shapes.lua(v, n)
                                                for n, v in g["types"].items()) + " }"
        body.append(line + " },\n")
    out = [HEADER, "local S = {} -- shapes used by more than one field or nested\n", shapes.defs(),
           "\nreturn {\n"] + body
    out.append("}\n")
    out.append("\n-- Rows of endpoints.tsv left out (not resource methods):\n")
    for op, m, p, why in skipped:
        out.append("--   %s (%s %s): %s\n" % (op, m, p, why))
    out.append("\n-- Decisions where the catalog notes, the spec and the SDKs disagree or say nothing:\n")
    seen = set()
    for d in decisions:
        if d not in seen:
            seen.add(d)
            out.append("--   " + d + "\n")
    return "".join(out), len(seen)


# --- catalog_data.lua ------------------------------------------------------------------------------

def catalog_data_lua(emu_ops):
    eo = ["-- GENERATED by tools/gen_endpoints.py: one entry per operation of lua/coze/endpoints.lua, with a\n"
          "-- response sample built from openapi.reconstructed.json (pre-encoded JSON: data_json is spliced into\n"
          "-- the envelope, body_json holds top-level fields) and the paging layout. Served by emu/catalog.lua.\n",
          "return {\n"]
    for emu in emu_ops:
        parts = []
        for k in ("op", "method", "path", "kind", "profile", "either", "data_json", "body_json", "item_json", "paging"):
            if k in emu:
                parts.append(k + " = " + lua_val(emu[k]))
        eo.append("  { " + ", ".join(parts) + " },\n")
    eo.append("}\n")
    return "".join(eo)


# --- docs/resources.md -----------------------------------------------------------------------------

EXAMPLES = {
    "bots": '''local page = assert(client.bots:list { workspace_id = "7390...", page_size = 20 })
for bot in page:each() do print(bot.id, bot.name) end
local bot = assert(client.bots:retrieve { bot_id = "7390..." })''',
    "apps": '''for app in assert(client.apps:list { workspace_id = "7390..." }):each() do print(app.id, app.name) end''',
    "entities": '''local task = assert(client.entities.copy_tasks:create { entity_type = "bot", entity_id = "7390...",
  to_workspace_id = "7391..." })''',
    "workspaces": '''for ws in assert(client.workspaces:list {}):each() do print(ws.id, ws.name) end
assert(client.workspaces.members:create { workspace_id = "7390...", users = { { user_id = "u1", role_type = "member" } } })''',
    "folders": '''local page = assert(client.folders:list { workspace_id = "7390...", folder_type = "development" })''',
    "enterprises": '''assert(client.enterprises.members:update { enterprise_id = "volcano_2101...", user_id = "u1", role = "enterprise_member" })''',
    "organizations": '''for m in assert(client.organizations.members:list { organization_id = "7390..." }):each() do print(m.user_id) end''',
    "conversations": '''local conv = assert(client.conversations:create { bot_id = "7390..." })
assert(client.conversations.messages:create { conversation_id = conv.id, role = "user",
  content = "hello", content_type = "text" })
local page = assert(client.conversations.messages:list { conversation_id = conv.id, limit = 20 })
for msg in page:each() do print(msg.role, msg.content) end''',
    "chat": '''local res = assert(client.chat:create_and_poll { bot_id = "7390...", user_id = "u1",
  additional_messages = { coze.message.user_text("hi") } })
local s = assert(client.chat:stream { bot_id = "7390...", user_id = "u1",
  additional_messages = { coze.message.user_text("hi") } })
for ev in s:events() do if ev.event == "conversation.message.delta" then io.write(ev.data.content) end end
-- OpenAI-style completions (seed 001)
local c = assert(client.chat.completions:create { model = "doubao-seed-1-6", messages = { { role = "user", content = "hi" } } })''',
    "workflows": '''local run = assert(client.workflows.runs:create { workflow_id = "7390...", parameters = { input = "hi" } })
print(run.data, run.execute_id)
local s = assert(client.workflows.runs:stream { workflow_id = "7390...", parameters = { input = "hi" } })
for ev in s:events() do print(ev.event, ev.raw) end''',
    "files": '''local file = assert(client.files:upload { file = "/tmp/report.pdf" })
print(file.id)''',
    "audio": '''local bytes = assert(client.audio.speech:create { input = "你好", voice_id = "7426720361733046281" })
local text = assert(client.audio.transcriptions:create { file = "/tmp/hello.wav" })
for v in assert(client.audio.voices:list { page_size = 50 }):each() do print(v.voice_id, v.name) end''',
    "datasets": '''local docs = assert(client.datasets.documents:list { dataset_id = "7390...", size = 20 })
for d in docs:each() do print(d.document_id, d.name) end  -- the Agw-Js-Conv header is added for you''',
    "plugins": '''local res = assert(client.plugins.tools:call { plugin_id = "7390...", tool_name = "search",
  arguments = { q = "lua" } })
local infos = assert(client.plugins:batch_retrieve { ids = { "7390...", "7391..." } })  -- ids=a,b''',
    "stores": '''for p in assert(client.stores.plugins:list { keyword = "weather" }):each() do print(p.name) end''',
    "variables": '''local vars = assert(client.variables:retrieve { connector_uid = "u1", bot_id = "7390...", keywords = { "name" } })''',
    "connectors": '''assert(client.connectors:install { connector_id = "1024", workspace_id = "7390..." })''',
    "commerce": '''local tasks = assert(client.commerce.bill_tasks:list { page_size = 10 })''',
    "api_apps": '''local app = assert(client.api_apps:create { app_type = "normal", name = "callbacks" })
assert(client.api_apps.events:subscribe { api_app_id = app.id, event_types = { "bot.published" } })''',
    "templates": '''local res = assert(client.templates:duplicate { template_id = "7390...", workspace_id = "7391...", name = "copy" })''',
    "users": '''local me = assert(client.users:me {})''',
}

def describe_row(g, method_of_row):
    tags = []
    if "paging" in g:
        tags.append("paged (" + g["paging"] + ")")
    if "stream" in g:
        tags.append("SSE stream (" + g["stream"] + ")")
    if g.get("body") == "multipart":
        tags.append("multipart upload")
    if g.get("response") == "binary":
        tags.append("binary answer")
    if "headers" in g:
        tags.append("sends " + ", ".join("%s: %s" % kv for kv in g["headers"].items()))
    if g.get("query") and g.get("body") != "none" and method_of_row not in BODYLESS:
        tags.append("query: " + ", ".join(g["query"]))
    if g.get("result") and g["result"] != "data":
        tags.append("returns " + ("the whole body" if g["result"] == "body" else "`" + g["result"] + "`"))
    return "; ".join(tags)


def call_name(name):
    parts = name.split(".")
    return "client." + ".".join(parts[:-1]) + ":" + parts[-1] + "{...}"


def resources_md(rows, skipped):
    groups = []
    by_group = {}
    for name, method, path, g in rows:
        top = name.split(".")[0]
        if top not in by_group:
            by_group[top] = []
            groups.append(top)
        by_group[top].append((name, method, path, g))
    doc = ["<!-- GENERATED by tools/gen_endpoints.py from the API catalog; edit the generator. -->\n",
           "# Resources\n\n",
           "Every operation of the Coze API is a method built from one table, `lua/coze/endpoints.lua`: the operation\n",
           "`a.b.c` is called as `client.a.b:c{ ... }` with one options table. Fields named in the path (`{bot_id}`)\n",
           "are filled in and escaped; fields the API takes in the query string go there; everything else goes to\n",
           "the JSON body (to the query string for GET), in the shape the catalog gives each field (arrays as JSON\n",
           "arrays also when empty, string ids as exact decimal text). Missing required fields, fields of an\n",
           "impossible shape and fields the operation does not have raise `coze: <op>: field '<name>' ...` (with a\n",
           "\"did you mean\"); send fields the catalog lacks with `extra_body = {...}` / `extra_query = {...}`.\n",
           "Failures of the call return `nil, err` (see the README). Call options (`headers`, `query`, timeouts,\n",
           "`wait_ms`, `on_wait`, ...) can be mixed into the same table.\n\n",
           "## Pagination\n\n",
           "List operations marked *paged* return a page after one request:\n\n",
           "```lua\n",
           "local page, err = client.bots:list { workspace_id = \"7390...\", page_size = 20 }\n",
           "if not page then error(err) end\n",
           "print(#page.items, page.has_more, page.total)   -- page.raw is the decoded result\n",
           "for bot in page:each() do print(bot.name) end  -- further pages are fetched as needed; errors raise\n",
           "local next_item = page:iter()                  -- the same walk without raising:\n",
           "local item, ierr = next_item()                  -- item, nil at the end, or nil, err\n",
           "local second, perr = page:next_page()           -- nil when there are no more pages\n",
           "```\n\n",
           "One helper serves the five schemes of the API (`page_num`, `page_index`, `page_token`, `first_last_id`\n",
           "for message lists and `page_size_body` for knowledge documents); give the first page's fields as the API\n",
           "names them (`page_num`/`page_size`, `page_token`, `before_id`/`after_id`/`limit`, `page`/`size`).\n",
           "A walk ends when `has_more` is false, a page is empty, `total` is reached, the server sends a token or\n",
           "cursor the walk already sent (A, B, A ends after B), or a page repeats the one before it. A walk longer than\n",
           "`max_pages` pages (an option of the list call, default 10000) ends with `nil, err` (kind \"decode\").\n\n",
           "## Operations\n\n"]
    for top in groups:
        doc.append("### %s\n\n" % top)
        doc.append("| method | HTTP | notes |\n|---|---|---|\n")
        for name, method, path, g in by_group[top]:
            doc.append("| `%s` | `%s %s` | %s |\n" % (call_name(name), method, path, describe_row(g, method)))
        if top in EXAMPLES:
            doc.append("\n```lua\n" + EXAMPLES[top] + "\n```\n")
        doc.append("\n")
    doc.append("## Not resource methods\n\n")
    for op, m, p, why in skipped:
        doc.append("- `%s` (`%s %s`): %s\n" % (op, m, p, why))
    return "".join(doc)


def main(argv):
    api = argv[1] if len(argv) > 1 else CATALOG
    rows, skipped, emu_ops, decisions = build(api)
    text, ndecisions = endpoints_lua(rows, skipped, decisions)
    outputs = {
        ENDPOINTS_LUA: text,
        CATALOG_DATA_LUA: catalog_data_lua(emu_ops),
        RESOURCES_MD: resources_md(rows, skipped),
    }
    for rel, content in outputs.items():
        path = os.path.join(ROOT, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(content)
    print("%d methods, %d skipped rows, %d decisions" % (len(rows), len(skipped), ndecisions))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
