#!/usr/bin/env python3
"""Generates the endpoint table of the SDK, the emulator's catalog and the resources page from the
API catalog in catalog/ (endpoints.tsv, params.tsv, openapi.reconstructed.json):

    python3 tools/gen_endpoints.py [--out DIR] [CATALOG_DIR]   (default: catalog/ of this repository;
                                         --out writes the outputs under DIR instead of the tree)

Outputs (committed; run this again after the catalog changes and review the diff):
    lua/coze/endpoints.lua               one row per operation: method, path, where each field goes,
                                         types, paging, stream profile, `idempotent` for reads
    spec/emulator/emu/catalog_data.lua   a response sample and the paging layout per operation
    docs/resources.md                    the table of every method, with examples
    docs/reference.md                    every method's fields (type, required, where sent, meaning),
                                         result, paging and stream events, and the call options
    types/coze.lua                       the same as LuaLS definitions (---@meta coze), with the
                                         client, streams, pages, errors and auth constructors
The last two also read lua/coze/pager.lua (paging defaults), lua/coze/request.lua (CALL_OPTIONS) and
the README's table of call options, so each fact has one copy.
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



# --- the reference model: fields, meanings and results of every operation -------------------------
# Shared by docs/reference.md and types/coze.lua (both below); reads the catalog again beside build()
# so the endpoint table's code stays as it is.

REFERENCE_MD = os.path.join("docs", "reference.md")
LUALS_DEFS = os.path.join("types", "coze.lua")
PAGER_LUA = os.path.join("lua", "coze", "pager.lua")
REQUEST_LUA = os.path.join("lua", "coze", "request.lua")
README_MD = "README.md"

WHERE_ORDER = {"path": 0, "query": 1, "body": 2, "multipart": 3}


def one_line(text, limit=110):
    """The first sentence of a catalog description, without markdown links and line breaks."""
    if not text:
        return ""
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", str(text))
    t = re.sub(r"\s+", " ", t.replace("*", " ")).strip()
    m = re.search(r"(。|；|(?<=[a-z0-9)])\. )", t)
    if m:
        t = t[:m.start()] + ("" if m.group(1).strip() == "." else "")
    t = re.sub(r"^(required|optional)\b[ ,，]*", "", t, flags=re.I)  # the table says it
    t = t.strip(" ，,;；:：")
    if len(t) > limit:
        t = t[:limit - 1].rstrip() + "…"
    return t


class Meanings(Samples):
    """One line of meaning per (operationId, field), and item fields, from openapi.reconstructed.json
    (loaded and resolved as for the samples)."""

    def item_schema_fields(self, ps, g):
        """Fields of a page's items from the OpenAPI schema its list names (params.tsv stops one
        level down): (name, catalog-style type, enum)."""
        if "paging" not in g:
            return []
        key = _result_prefix(g) + g.get("items", "items")
        for p in ps:
            m = re.match(r"^array<object\((\w+)\)>$", p["type"]) if p["location"] == "response" and p["name"] == key else None
            if m and m.group(1) in self.schemas and m.group(1) != "properties_data":
                out = []
                for k, v in sorted(self.resolve(self.schemas[m.group(1)]).get("properties", {}).items()):
                    v = self.resolve(v)
                    t = v.get("type") or ("object" if "properties" in v else "?")
                    if t == "array":
                        it = v.get("items", {}) if isinstance(v.get("items"), dict) else {}
                        t = "array<string>" if it.get("type") == "string" else "array"
                    out.append((k, t, ",".join(str(x) for x in v.get("enum", []))))
                return out
        return []

    def fields(self, opid):
        op = self.by_opid.get(opid) if opid else None
        out = {}
        if not op:
            return out
        for p in op.get("parameters", []):
            if isinstance(p, dict) and p.get("name"):
                out[p["name"]] = one_line(p.get("description") or p.get("title"))
        for ct in (op.get("requestBody") or {}).get("content", {}).values():
            props = self.resolve(ct.get("schema", {})).get("properties", {})
            for k, v in props.items():
                v = v if isinstance(v, dict) else {}
                r = self.resolve(v)
                text = v.get("description") or v.get("title") or r.get("description") or r.get("title")
                if k not in out or not out[k]:
                    out[k] = one_line(text)
        return out


def luals_type(ctype, enum, name, multipart):
    """The LuaLS type of a catalog field type."""
    low = ctype.strip().lower()
    if multipart and (low in ("file", "string(binary)") or name == "file"):
        return "string|coze.FilePart"
    if enum:
        vals = [v.strip() for v in enum.split(",") if v.strip()]
        if vals and low in ("integer", "interger", "long") and all(re.match(r"^-?\d+$", v) for v in vals):
            return "|".join(vals)
        if vals and low.startswith("string"):
            return "|".join(lua_str(v) for v in vals)
    if "entermessage" in low:
        return "coze.Message[]"
    if low == "string(i64)":
        return "string|integer"
    scalar = from_tsv(ctype, {})  # the shapes reading of a catalog type
    if scalar in ("integer", "number", "boolean"):
        return scalar
    if low.startswith("string"):
        return "string"
    if low in ("array<string>", "array of string"):
        return "string[]"
    if low == "array<string(i64)>":
        return "(string|integer)[]"
    if low.startswith("array"):
        return "table[]"
    if low == "map<string,string>":
        return "table<string, string>"
    if low.startswith("map"):
        return "table<string, any>"
    if low.startswith("object") or low.startswith("obj"):
        return "table"
    return "any"


# Types of the OpenAI-style body fields that the catalog names only in its notes (chat.completions).
OPENAI_TYPES = {"model": "string", "messages": "table[]", "stream": "boolean", "stream_options": "table",
                "temperature": "number", "top_p": "number", "max_tokens": "integer", "max_completion_tokens": "integer",
                "thinking_enabled": "boolean", "reasoning_effort": "string", "stop": "string|string[]",
                "response_format": "table", "tools": "table[]", "tool_choice": "string|table",
                "parallel_tool_calls": "boolean", "logprobs": "boolean", "top_logprobs": "integer",
                "modalities": "string[]"}


def reference_model(api, rows):
    """Per generated operation: title, fields (name, type, required, where, meaning, catalog type),
    result fields and page item fields, from the catalog rows behind each endpoint-table row."""
    endpoints = read_tsv(api, "endpoints.tsv")
    params = read_tsv(api, "params.tsv")
    meanings = Meanings(api)
    by_key = {}
    for p in params:
        by_key.setdefault(p["operation"], []).append(p)
    row_of = {}  # generated op name -> endpoints.tsv row
    for e in endpoints:
        ops = e["operation"].split("|")
        if e["response"] == "json|sse" and len(ops) == 1:
            ops.append(ops[0].rsplit(".", 1)[0] + ".stream")
        for o in ops:
            row_of[RENAMES.get(o, o)] = e
    model = []
    for name, method, path, g in rows:
        e = row_of[name]
        ps = by_key.get(e["operation"], [])
        multipart = g.get("body") == "multipart"
        no_body = method in BODYLESS or g.get("body") == "none"
        path_names = re.findall(r"{([A-Za-z0-9_]+)}", path)
        required = set(g.get("required", [])) | set(path_names)
        query = set(g.get("query", []))
        mean = meanings.fields(e["operation_id"])
        fields, seen = [], set()
        for p in ps:
            loc, fname = p["location"], p["name"]
            if loc not in ("query", "body", "form", "path") or fname in seen:
                continue
            if multipart and fname in ("Data", "body"):
                continue
            seen.add(fname)
            if loc == "path" or fname in path_names:
                where = "path"
            elif fname in query or no_body:
                where = "query"
            elif multipart:
                where = "multipart"
            else:
                where = "body"
            fields.append({"name": fname, "ctype": p["type"], "enum": p["enum"],
                           "type": luals_type(p["type"], p["enum"], fname, multipart),
                           "required": fname in required, "where": where,
                           "meaning": mean.get(fname, "")})
        forced = g.get("set", {})
        for f in fields:
            if f["name"] in forced:
                f["meaning"] = "set by this method (%s)" % lua_val(forced[f["name"]])
        m = re.search(r"OpenAI-style body \(([^)]*)\)", e["notes"])
        if m and not fields:  # no params rows: the body fields the catalog notes name
            for fname in re.split(r"[,|]\s*", m.group(1)):
                fname = fname.strip()
                meaning = ("set by this method (%s)" % lua_val(forced[fname]) if fname in forced
                           else "OpenAI-style body field (catalog notes)"
                           + ("; the API requires it" if fname in ("model", "messages") else ""))
                fields.append({"name": fname, "ctype": "?", "enum": "", "type": OPENAI_TYPES.get(fname, "any"),
                               "required": False, "where": "body", "meaning": meaning})
                seen.add(fname)
        for fname in path_names:  # path params the catalog forgot
            if fname not in seen:
                fields.append({"name": fname, "ctype": "string", "enum": "", "type": "string|integer",
                               "required": True, "where": "path", "meaning": ""})
        fields.sort(key=lambda f: (not f["required"], WHERE_ORDER[f["where"]]))
        model.append({"op": name, "method": method, "path": path, "g": g, "title": e["doc_title"],
                      "fields": fields, "result": result_fields(ps, g, name, e), "list": result_is_list(ps, g),
                      "items": item_fields(ps, g) or meanings.item_schema_fields(ps, g)})
    return model


def _children(ps, prefix):
    out = []
    for p in ps:
        if p["location"] != "response" or not p["name"].startswith(prefix):
            continue
        rest = p["name"][len(prefix):]
        if rest and "." not in rest and rest not in ("code", "msg", "detail"):
            out.append((rest, p["type"], p["enum"]))
    return out


def _result_prefix(g):
    r = g.get("result")
    return "" if r == "body" else (r or "data") + "."


def result_fields(ps, g, name, e):
    """Fields of the result (name, catalog type, enum), or None when the catalog's are not to be trusted."""
    if name in FIXED_SAMPLES:
        sample = FIXED_SAMPLES[name]
        return [(k, "integer" if isinstance(v, int) else "array" if isinstance(v, list)
                 else "object" if isinstance(v, dict) else "string", "") for k, v in sample.items()]
    if "do not trust it" in e["notes"]:
        return None
    for p in ps:
        if p["location"] == "response" and p["name"] == "data" and "properties_data" in p["type"]:
            return None  # the clobbered shared schema (catalog README)
    return _children(ps, _result_prefix(g))


def result_is_list(ps, g):
    """Whether the result is an array (its fields in the catalog are then those of each element)."""
    key = _result_prefix(g)[:-1]
    return any(p["location"] == "response" and p["name"] == key and p["type"].lower().startswith("array")
               for p in ps)


def item_fields(ps, g):
    if "paging" not in g:
        return []
    return _children(ps, _result_prefix(g) + g.get("items", "items") + ".")


def pager_defaults(root):
    """The paging schemes' default names, read from lua/coze/pager.lua (the one copy)."""
    with open(os.path.join(root, PAGER_LUA), encoding="utf-8") as fh:
        text = fh.read()
    block = re.search(r"local DEFAULTS = \{(.*?)\n\}", text, re.S).group(1)
    out = {}
    for scheme, body in re.findall(r"(\w+) = \{([^}]*)\}", block):
        out[scheme] = dict(re.findall(r'(\w+) = "([^"]*)"', body))
    max_pages = re.search(r"DEFAULT_MAX_PAGES = (\d+)", text).group(1)
    return out, max_pages


def call_options(root):
    """(name, Lua type, meaning) of every call option: names and types from CALL_OPTIONS in
    lua/coze/request.lua, meanings from the README's table of call options."""
    with open(os.path.join(root, REQUEST_LUA), encoding="utf-8") as fh:
        text = fh.read()
    block = re.search(r"CALL_OPTIONS = \{(.*?)\n\}", text, re.S).group(1)
    block = re.sub(r"--[^\n]*", "", block)
    opts = re.findall(r'(\w+) = "(\w+)"', block)
    meaning = {}
    with open(os.path.join(root, README_MD), encoding="utf-8") as fh:
        for line in fh:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 2 and cells[0].startswith("`"):
                for n in re.findall(r"`(\w+)`(?: \(([^)]*)\))?", cells[0]):
                    text = cells[1].replace(" (below)", " (README)")
                    meaning.setdefault(n[0], text + (" (default " + n[1] + ")" if n[1] else ""))
    return [(n, t, meaning.get(n, "")) for n, t in opts]


def stream_events(api):
    """Event names and meanings per stream profile from events.md (sections 1 and 3)."""
    with open(os.path.join(api, "events.md"), encoding="utf-8") as fh:
        text = fh.read()
    out = {}
    for profile, head in (("chat", "## 1."), ("workflow", "## 3.")):
        at = text.index(head)
        end = text.find("\n## ", at + 1)
        section = text[at:end if end > 0 else len(text)]
        evs = []
        for m in re.finditer(r"^\| `([^`]+)` \| ([^|]*) \| ([^|]*) \|$", section, re.M):
            evs.append((m.group(1), m.group(2).strip(), m.group(3).strip()))
        out[profile] = evs
    return out


# Helpers written in Lua on top of the generated operations (lua/coze/resources/*.lua): their
# options beyond the operation's own, their result and one line each.
EXTENSIONS = {
    "chat.create_and_poll": {
        "base": "chat.create", "extra": [("poll_interval_ms", "integer", "ms between chat:retrieve polls (default 1000)"),
                                        ("poll_timeout_ms", "integer", "give up after this many ms (default 600000): err.timeout \"poll\", err.chat")],
        "returns": "coze.ChatPollResult", "doc": "creates a chat, polls chat:retrieve until a terminal status, then lists its messages when it completed; returns `{ chat = Chat, messages = {...} | nil }`"},
    "workflows.runs.create_and_poll": {
        "base": "workflows.runs.create", "extra": [("poll_interval_ms", "integer", "ms between polls (default 1000)"),
                                                  ("poll_timeout_ms", "integer", "give up after this many ms (default 600000)")],
        "returns": "table", "doc": "runs the workflow asynchronously (is_async = true) and polls its run history until it is no longer Running; returns the run history record"},
    "workflows.runs.run_histories.wait": {
        "base": "workflows.runs.run_histories.retrieve", "extra": [("poll_interval_ms", "integer", "ms between polls (default 1000)"),
                                                                   ("poll_timeout_ms", "integer", "give up after this many ms (default 600000)")],
        "returns": "table", "doc": "polls run_histories:retrieve until the record's execute_status is not Running; returns the record"},
}

# Options a generated method takes beyond its fields and the call options.
STREAM_OPTIONS = {
    "chat.stream": [("cancel_on_close", "boolean", "closing the stream before done also calls chat:cancel")],
    "chat.submit_tool_outputs_stream": [("cancel_on_close", "boolean", "closing the stream before done also calls chat:cancel")],
}
PAGE_OPTIONS = [("max_pages", "integer", "cap of the walk in pages (default %s); past it next_page() is nil, err")]


def stream_class(g, name):
    if name.startswith("workflows.runs.stream"):
        return "coze.WorkflowStream"
    if g.get("stream") == "chat":
        return "coze.ChatStream"
    return "coze.Stream"


def returns_of(m):
    g = m["g"]
    if "stream" in g:
        return stream_class(g, m["op"])
    if "paging" in g:
        return "coze.page." + m["op"] if m["items"] else "coze.Page"
    if g.get("response") == "binary":
        return "string|integer"
    if not m["result"]:
        return "table"
    return "coze.result." + m["op"] + ("[]" if m["list"] else "")


def md_cell(s):
    return (s or "").replace("|", "\\|").replace("\n", " ")


# --- docs/reference.md -----------------------------------------------------------------------------

def paging_line(g, defaults):
    d = dict(defaults.get(g["paging"], {}))
    for k in ("items", "total", "has_more", "next_token", "page_param", "size_param", "token_param"):
        if k in g:
            d[k] = g[k]
    if g["paging"] == "first_last_id":
        req = "`%s` / `%s`, `%s`" % (d.get("before_param"), d.get("after_param"), d.get("size_param"))
        res = "`%s`, next page from `%s` (or `%s` going back), `%s`" % (d.get("items"), d.get("last_id"),
                                                                      d.get("first_id"), d.get("has_more"))
    elif d.get("kind") == "token":
        req = "`%s`, `%s`" % (d.get("token_param"), d.get("size_param"))
        res = "`%s`, next token `%s`, `%s`" % (d.get("items"), d.get("next_token"), d.get("has_more"))
    else:
        req = "`%s` (first page 1 unless given), `%s`" % (d.get("page_param"), d.get("size_param"))
        res = "`%s`, `%s` / `%s`" % (d.get("items"), d.get("total"), d.get("has_more"))
    return "%s: the request sends %s; the page reads %s" % (g["paging"], req, res)


def reference_md(model, root, api):
    defaults, max_pages = pager_defaults(root)
    events = stream_events(api)
    groups, by_group = [], {}
    for m in model:
        top = m["op"].split(".")[0]
        if top not in by_group:
            by_group[top] = []
            groups.append(top)
        by_group[top].append(m)
    ext_by_group = {}
    for name in EXTENSIONS:
        ext_by_group.setdefault(name.split(".")[0], []).append(name)
    out = ["<!-- GENERATED by tools/gen_endpoints.py from catalog/, lua/coze/pager.lua, lua/coze/request.lua and the\n"
           "     README's call options; edit those, not this file. -->\n",
           "# Reference\n\n",
           "Every operation of the Coze API as the Lua SDK calls it: `client.a.b:c{ ... }` with one options table.\n",
           "For each operation: its fields (type as Lua sees it, whether it is required, where it is sent: `path`,\n",
           "`query`, JSON `body` or `multipart` form, and one line of meaning from the API's own description), what it\n",
           "returns, and how it pages or streams. The same facts, typed for an editor, are in\n",
           "[`types/coze.lua`](../types/coze.lua), a LuaLS definitions file: add the `types` folder to\n",
           "`workspace.library` of lua-language-server (`.luarc.json`: `{ \"workspace.library\": [\"path/to/lua-coze/types\"] }`).\n\n",
           "Rules every operation shares:\n\n",
           "- A method returns `result, meta` (`meta.http_status`, `meta.logid`, `meta.headers`) or `nil, err`\n",
           "  (`err` a `coze.errors` object: `kind`, `code`, `msg`, `http_status`, `logid`, `retry_after`, `op`).\n",
           "- A missing required field or a value of an impossible type raises at the caller's line. Ids typed\n",
           "  `string` may also be given as integers; fields the table does not name go to the body (the query\n",
           "  string for GET), so new server fields work without a release.\n",
           "- Call options (below) can be mixed into any options table; they configure the call and are not sent.\n",
           "- `binary` operations return the bytes (or write them to `output`); multipart `file` fields take a\n",
           "  path, `{ path = ..., filename =, type = }` or `{ data = bytes, filename =, type = }`.\n\n",
           "## Contents\n\n"]
    out.append(", ".join("[%s](#%s)" % (t, t) for t in groups) + "; [call options](#call-options), "
               "[pages](#pages), [streams](#streams)\n\n")

    out.append("## Call options\n\n| option | type | meaning |\n|---|---|---|\n")
    for n, t, meaning in call_options(root):
        out.append("| `%s` | %s | %s |\n" % (n, t, md_cell(meaning)))
    out.append("| `max_pages` | number | list calls: cap of a walk in pages (default %s) |\n" % max_pages)
    out.append("| `cancel_on_close` | boolean | `chat:stream`, `chat:submit_tool_outputs_stream`: closing the stream "
               "before `done` also cancels the chat |\n\n")

    out.append("## Pages\n\nA paged operation returns a `coze.Page` after one request: `page.items`, `page.has_more`,\n"
               "`page.total` (or nil), `page.raw` (the decoded result), `page.meta`; `page:next_page()` -> Page | nil |\n"
               "nil, err; `page:iter()` -> a function giving the next item across pages (nil at the end, or nil, err);\n"
               "`page:each()` -> the for-loop form (a failed page raises its error). Schemes and their default names\n"
               "(`lua/coze/pager.lua`; an operation below names the fields it overrides):\n\n"
               "| scheme | request | result |\n|---|---|---|\n")
    for scheme, d in defaults.items():
        line = paging_line({"paging": scheme}, defaults).split(": ", 1)[1]
        req, res = line.split("; the page reads ")
        out.append("| `%s` | %s | %s |\n" % (scheme, req.replace("the request sends ", ""), res))
    out.append("\n")

    out.append("## Streams\n\nA streaming operation returns a `coze.Stream`: `stream:next()` -> event | nil (the end) |\n"
               "nil, err (never raises); `for ev in stream:events()` (a failure raises; `break` closes on 5.4);\n"
               "`for name, raw, id in stream:raw_events()`; `for chunk, n in stream:raw_chunks()` (the bytes of\n"
               "whole events as received, a batch per chunk, for relays); `stream:close()`. An event is\n"
               "`{ event = name, id = ..., raw = data text, data = decoded JSON (lazy) }`. Event names\n"
               "(catalog/events.md):\n\n")
    for profile, title in (("chat", "chat (`chat:stream`, `chat:submit_tool_outputs_stream`, `workflows.chat:stream`)"),
                           ("workflow", "workflow (`workflows.runs:stream`, `workflows.runs:resume`)")):
        out.append("### %s\n\n| event | data | meaning |\n|---|---|---|\n" % title)
        for name, data, meaning in events[profile]:
            out.append("| `%s` | %s | %s |\n" % (name, md_cell(data), md_cell(meaning)))
        out.append("\n")
    out.append("`chat.completions:stream` follows the OpenAI framing: `data:` chunks without event names, "
               "ending at `data: [DONE]` (not delivered).\n\n")

    for top in groups:
        out.append("## %s\n\n" % top)
        for m in by_group[top]:
            out.append(reference_op_md(m, defaults, max_pages))
        for name in ext_by_group.get(top, []):
            x = EXTENSIONS[name]
            out.append("### `%s`\n\nHelper (Lua, on `%s`): %s. Takes the fields of `%s`, plus:\n\n"
                       "| option | type | meaning |\n|---|---|---|\n" % (call_name(name), call_name(x["base"]),
                                                                      x["doc"], call_name(x["base"])))
            for n, t, d in x["extra"]:
                out.append("| `%s` | %s | %s |\n" % (n, t, md_cell(d)))
            out.append("\n")
    return "".join(out)


def reference_op_md(m, defaults, max_pages):
    g = m["g"]
    out = ["### `%s`\n\n`%s %s`" % (call_name(m["op"]), m["method"], m["path"])]
    if m["title"]:
        out.append(" · %s" % m["title"])
    out.append(" · %s\n\n" % ("read: retried like a GET" if g.get("idempotent") else "write: not replayed once sent"))
    if m["fields"]:
        out.append("| field | type | required | in | meaning |\n|---|---|---|---|---|\n")
        for f in m["fields"]:
            t = f["type"]
            out.append("| `%s` | `%s` | %s | %s | %s |\n" % (f["name"], md_cell(t), "yes" if f["required"] else "",
                                                          f["where"], md_cell(f["meaning"])))
        out.append("\n")
    else:
        out.append("No fields.\n\n")
    extra = STREAM_OPTIONS.get(m["op"], [])
    for n, t, d in extra:
        out.append("Option `%s` (%s): %s.\n\n" % (n, t, d))
    if "headers" in g:
        out.append("Sends %s.\n\n" % ", ".join("`%s: %s`" % kv for kv in g["headers"].items()))
    if "stream" in g:
        prof = {"chat": "chat events", "workflow": "workflow events", "completions": "OpenAI-style chunks"}[g["stream"]]
        out.append("**Returns** a `%s` (%s, see [streams](#streams)).\n\n" % (stream_class(g, m["op"]), prof))
    elif "paging" in g:
        out.append("**Returns** a `coze.Page` (%s).\n\n" % paging_line(g, defaults))
        if m["items"]:
            out.append("Items: %s.\n\n" % ", ".join("`%s` (%s)" % (n, t) for n, t, _ in m["items"]))
    elif g.get("response") == "binary":
        out.append("**Returns** the bytes as a string (the byte count when written to `output` or handed to `on_chunk`).\n\n")
    else:
        where = {None: "`data`", "data": "`data`", "body": "the whole body"}.get(g.get("result"), "`%s`" % g.get("result"))
        if m["result"]:
            out.append("**Returns** %s: %s%s.\n\n" % (where, "a list of elements with " if m["list"] else "",
                                                       ", ".join("`%s` (%s)" % (n, t) for n, t, _ in m["result"])))
        elif m["result"] is None:
            out.append("**Returns** %s (the catalog's schema of it is unreliable; see the API docs).\n\n" % where)
        else:
            out.append("**Returns** %s (`true` when the answer carries no data).\n\n" % where)
    return "".join(out)


# --- types/coze.lua (LuaLS definitions) ------------------------------------------------------------

LUALS_HEAD = r'''---@meta coze
-- GENERATED by tools/gen_endpoints.py from catalog/ and the SDK's modules; edit the generator.
-- LuaLS (lua-language-server) definitions of lua-coze: add this folder to `workspace.library`
-- (.luarc.json: { "workspace.library": ["path/to/lua-coze/types"] }) and `client.chat:stream{`
-- completes its fields. Human-readable twin: docs/reference.md.

---@class coze
---@field _VERSION string
---@field CN_BASE_URL string https://api.coze.cn
---@field COM_BASE_URL string https://api.coze.com
---@field errors coze.errors
---@field message coze.message
---@field auth coze.auth
---@field events coze.events event-name and status constants; a misspelt name raises
local coze = {}

---@class coze.events
---@field chat table<string, string> chat stream event names (CONVERSATION_MESSAGE_DELTA, MESSAGE_DELTA, ...)
---@field workflow table<string, string> workflow stream event names
---@field chat_status table<string, string>
---@field message_type table<string, string>
---@field workflow_status table<string, string>
---@field realtime table<string, { up: table<string, string>, down: table<string, string> }> WebSocket event types per API

---@class coze.Task
local Task = {}
---@return "ready"|"waiting"|"running"|"done"|"failed"|"cancelled"
function Task:status() end
--- The function's returns, or nil, err when it raised or was cancelled.
---@return any ...
function Task:result() end
--- Closes the task's open streams and the request it waits on.
function Task:cancel() end

---@class coze.Scheduler
local Scheduler = {}
--- Runs fn(...) as a task: every SDK wait inside it yields to this scheduler.
---@param fn fun(...): ...
---@return coze.Task
function Scheduler:spawn(fn, ...) end
--- Resumes ready tasks round-robin for at most budget_ms; returns how many tasks are alive.
---@param budget_ms? number
---@return integer
function Scheduler:step(budget_ms) end
--- Drives every task to its end (for scripts).
function Scheduler:run() end
--- Cancels every task (call it when the game quits).
function Scheduler:close() end

--- A scheduler for frame loops: `sched:step(2)` in love.update.
---@return coze.Scheduler
function coze.scheduler() end

---@class coze.WsEvent
---@field event_type string
---@field id string
---@field data any decoded lazily
---@field raw string the whole message text
---@field logid? string
---@field audio? string decoded audio bytes, for events carrying base64 audio

---@class coze.WsSession
local WsSession = {}
---@param event_type string
---@param data? table
---@param id? string
---@return string|nil id
---@return coze.Error|nil err
function WsSession:send(event_type, data, id) end
---@return coze.WsEvent|nil event
---@return coze.Error|nil err
function WsSession:next() end
---@return fun(): coze.WsEvent
function WsSession:events() end
---@param code? integer
---@param reason? string
function WsSession:close(code, reason) end

---@class coze.WsConnector
local WsConnector = {}
--- opts: query fields (bot_id, ...) and session options (wait_ms, on_wait, idle_timeout_ms, ...)
---@param opts table
---@return coze.WsSession|nil session
---@return coze.Error|nil err
function WsConnector:connect(opts) end

---@class coze.Websockets
---@field chat coze.WsConnector
---@field audio { speech: coze.WsConnector, transcriptions: coze.WsConnector, simult_interpretation: coze.WsConnector }

---@class coze.NewOptions : coze.CallOptions
---@field token? string personal or service access token (or give `auth`)
---@field auth? coze.Auth an auth object (coze.auth.jwt{...}, ...) asked for a token before each request
---@field base_url? string API base (default $COZE_API_BASE or coze.COM_BASE_URL)
---@field transport? table a transport object (default: the libcurl one)
---@field proxy? string
---@field no_proxy? string
---@field ca_file? string
---@field ca_path? string
---@field tls_verify? boolean true unless false (test servers only)
---@field max_buffer? integer
---@field ws_base_url? string WebSocket base (default derived from base_url: https://api.x -> wss://ws.x)
---@field max_message_bytes? integer largest WebSocket message (16 MiB)
---@field logger? fun(record: table)|table a function(record), or an object with debug/info/warn/error methods (default: $COZE_LOG)

--- Creates a client; every option except token/auth/base_url/transport/TLS ones is a client-wide
--- default of the call option of that name.
---@param opts coze.NewOptions
---@return coze.Client
function coze.new(opts) end

---@class coze.CallOptions
'''

LUALS_COMMON = r'''
---@class coze.Meta
---@field http_status integer
---@field logid? string
---@field headers table<string, string>
---@field body? table the decoded JSON body
---@field bytes? integer binary answers: their size
---@field path? string binary answers written to `output`: the file

---@alias coze.ErrorKind "api"|"http"|"transport"|"timeout"|"decode"|"stream"|"auth"|"io"

---@class coze.Error
---@field kind coze.ErrorKind
---@field code? integer|string Coze's code (kind "api"), an OAuth error code (kind "auth")
---@field msg string
---@field http_status? integer
---@field logid? string
---@field timeout? "connect"|"first_byte"|"idle"|"total"|"poll"
---@field retry_after? number seconds
---@field op? string the operation ("chat.create")
---@field attempts? integer
---@field path? string kind "io": the local file
---@field event? coze.Event the error event that ended a stream
---@field chat? table chat:create_and_poll timeout: the last chat seen
---@field history? table workflow poll timeout: the last record seen
---@field execute_id? string

---@class coze.errors
---@field Error table the metatable of error objects
---@field FIELDS string[]
local errors = {}
---@param kind coze.ErrorKind
---@param fields? table
---@return coze.Error
function errors.new(kind, fields) end
---@param v any
---@return boolean
function errors.is(v) end

---@class coze.Message
---@field role "user"|"assistant"
---@field content string
---@field content_type "text"|"object_string"|"card"
---@field type? string
---@field meta_data? table<string, string>

---@class coze.message
local message = {}
---@param content string
---@return coze.Message
function message.user_text(content) end
---@param content string
---@return coze.Message
function message.assistant_text(content) end
--- A multimodal user message from content items (message.text, .image, .file, .audio).
---@param items coze.ContentItem[]
---@return coze.Message
function message.user_object(items) end

---@class coze.ContentItem
---@field type "text"|"image"|"file"|"audio"
---@field text? string
---@field file_id? string
---@field file_url? string

--- A text content item.
---@param s string
---@return coze.ContentItem
function message.text(s) end
--- An image content item from a file id, { file_id = ... } or { file_url = ... }.
---@param ref string|{ file_id?: string, file_url?: string }
---@return coze.ContentItem
function message.image(ref) end
--- A file content item (as message.image).
---@param ref string|{ file_id?: string, file_url?: string }
---@return coze.ContentItem
function message.file(ref) end
--- An audio content item (as message.image).
---@param ref string|{ file_id?: string, file_url?: string }
---@return coze.ContentItem
function message.audio(ref) end

---@class coze.FilePart
---@field path? string a file streamed from disk
---@field data? string the bytes
---@field filename? string
---@field type? string content type

---@class coze.Event
---@field event string the event name
---@field id? string
---@field raw string the data text as received
---@field data any decoded JSON on first access (the raw text when it is not JSON)

---@class coze.ChatEvent : coze.Event
---@field event coze.ChatEventName|string

---@class coze.WorkflowEvent : coze.Event
---@field event coze.WorkflowEventName|string
---@field resume_args? { workflow_id: string, event_id: string, interrupt_type: integer } after Interrupt

---@class coze.Stream
---@field logid? string
---@field http_status integer
---@field headers table<string, string>
---@field completed? boolean true once the terminal event (or the soft end) arrived
---@field err? coze.Error
local Stream = {}
--- The next event, nil at the normal end (or when closed), or nil, err. Never raises.
---@return coze.Event|nil event
---@return coze.Error|nil err
function Stream:next() end
--- for ev in stream:events() do ... end: a failure raises the error object; break closes (5.4).
---@return fun(): coze.Event
function Stream:events() end
--- for name, raw, id in stream:raw_events() do ... end: the same walk without a table per event.
---@return fun(): string, string, string?
function Stream:raw_events() end
--- for chunk, n in stream:raw_chunks() do ... end: the SSE bytes of whole events as received, a batch
--- per chunk (n events in it), each ending on an event boundary; errors raise; break closes (5.4).
---@return fun(): string, integer
function Stream:raw_chunks() end
--- Closes the connection at once (idempotent).
function Stream:close() end

---@class coze.ChatStream : coze.Stream
---@field chat_id? string with cancel_on_close: the chat it started
---@field conversation_id? string
local ChatStream = {}
---@return coze.ChatEvent|nil event
---@return coze.Error|nil err
function ChatStream:next() end
---@return fun(): coze.ChatEvent
function ChatStream:events() end

---@class coze.WorkflowInterrupt
---@field workflow_id string
---@field event_id string
---@field interrupt_type integer
---@field data string
---@field node_title string

---@class coze.WorkflowStream : coze.Stream
---@field interrupt? coze.WorkflowInterrupt after an Interrupt event
---@field debug_url? string from the Done event
---@field workflow_id string
local WorkflowStream = {}
---@return coze.WorkflowEvent|nil event
---@return coze.Error|nil err
function WorkflowStream:next() end
---@return fun(): coze.WorkflowEvent
function WorkflowStream:events() end
--- After an Interrupt: workflows.runs:resume with the interrupt's ids.
---@param opts { resume_data: string } | coze.CallOptions
---@return coze.WorkflowStream|nil stream
---@return coze.Error|nil err
function WorkflowStream:resume(opts) end

---@class coze.Page
---@field items any[]
---@field has_more boolean
---@field total? number
---@field raw table the decoded result
---@field meta coze.Meta
local Page = {}
--- The next page, nil when there are no more, or nil, err.
---@return coze.Page|nil page
---@return coze.Error|nil err
function Page:next_page() end
--- A function giving the next item across pages: item, nil at the end, or nil, err.
---@return fun(): any, coze.Error?
function Page:iter() end
--- for item in page:each() do ... end (a failed page raises its error object).
---@return fun(): any
function Page:each() end

---@class coze.ChatPollResult
---@field chat coze.result.chat.create
---@field messages? coze.result.chat.messages.list[] the chat's messages when it completed

-- Auth ------------------------------------------------------------------------------------------

---@class coze.AuthOptions
---@field base_url? string
---@field transport? table
---@field proxy? string
---@field no_proxy? string
---@field ca_file? string
---@field ca_path? string
---@field tls_verify? boolean
---@field headers? table<string, string>
---@field connect_timeout_ms? number
---@field first_byte_timeout_ms? number
---@field idle_timeout_ms? number
---@field total_timeout_ms? number
---@field max_retries? number
---@field retry_base_ms? number
---@field retry_max_delay_ms? number
---@field retry_budget_ms? number
---@field lock_timeout_ms? number
---@field refresh_skew? number seconds before expiry to refresh (default 60)
---@field lock? { lock: function, unlock: function } single-flight lock (default: one Lua state)
---@field store? { get: function, set: function } token store (default: one Lua state)
---@field on_token? fun(info: coze.TokenInfo) called with every new token (to save it)
---@field cache_key? string

---@class coze.TokenInfo
---@field access_token string
---@field expires_in integer absolute Unix time (s)
---@field refresh_token? string
---@field token_type? string

---@class coze.Auth
local Auth = {}
--- An access token (cached, refreshed before it expires), or nil, err.
---@param client? coze.Client
---@param call? table
---@return string|nil token
---@return coze.Error|nil err
function Auth:token(client, call) end
--- Forgets the cached token when it is `token` (the client calls it once on a 401).
---@param token string
function Auth:invalidate(token) end
---@return coze.TokenInfo|nil
function Auth:token_info() end
--- Drops the connection cache of a transport the auth object made for itself.
function Auth:close() end

---@class coze.AppAuth : coze.Auth
---@field client_id string
local AppAuth = {}
--- Refreshes now with the stored (or the given) refresh token.
---@param opts? { refresh_token?: string, on_wait?: function }
---@return coze.TokenInfo|nil info
---@return coze.Error|nil err
function AppAuth:refresh(opts) end

---@class coze.auth.TokenOptions
---@field token string

---@class coze.auth.JWTOptions : coze.AuthOptions
---@field client_id string
---@field public_key_id string
---@field private_key string PEM
---@field ttl? integer seconds (default 900)
---@field session_name? string
---@field session_context? table
---@field scope? table channel token scope
---@field account_id? string|integer
---@field enterprise_id? string|integer
---@field aud? string

---@class coze.auth.JWT : coze.Auth
---@field client_id string
---@field public_key_id string
local JWT = {}
---@param base_url string
---@return string|nil jwt
---@return coze.Error|nil err
function JWT:sign(base_url) end
---@param opts? { on_wait?: function }
---@return coze.TokenInfo|nil info
---@return coze.Error|nil err
function JWT:refresh(opts) end

---@class coze.auth.AppOptions : coze.AuthOptions
---@field client_id string
---@field refresh_token? string a saved refresh token
---@field access_token? string a saved access token (with expires_in)
---@field expires_in? integer

---@class coze.auth.CodeOptions : coze.auth.AppOptions
---@field redirect_uri? string
---@field www_base_url? string

---@class coze.auth.PKCEOptions : coze.auth.CodeOptions
---@field code_challenge_method? "S256"|"plain"
---@field code_verifier_length? integer 43..128 (default 64)

---@class coze.auth.WebOptions : coze.auth.CodeOptions
---@field client_secret string

---@class coze.auth.AuthorizeSession
---@field state string
---@field redirect_uri string
---@field code_verifier? string
---@field code_challenge? string
---@field code_challenge_method? string

---@class coze.auth.PKCE : coze.AppAuth
local PKCE = {}
---@param opts? { redirect_uri?: string, state?: string, workspace_id?: string, code_challenge_method?: string, code_verifier?: string }
---@return string url
---@return coze.auth.AuthorizeSession session
function PKCE:authorize_url(opts) end
---@param opts { code: string, code_verifier?: string, state?: string, redirect_uri?: string, on_wait?: function }
---@return coze.TokenInfo|nil info
---@return coze.Error|nil err
function PKCE:exchange_code(opts) end

---@class coze.auth.Web : coze.AppAuth
local Web = {}
---@param opts? { redirect_uri?: string, state?: string, workspace_id?: string }
---@return string url
---@return coze.auth.AuthorizeSession session
function Web:authorize_url(opts) end
---@param opts { code: string, redirect_uri?: string, state?: string, on_wait?: function }
---@return coze.TokenInfo|nil info
---@return coze.Error|nil err
function Web:exchange_code(opts) end

---@class coze.auth.DeviceOptions : coze.auth.AppOptions
---@field workspace_id? string|integer

---@class coze.auth.DeviceCode
---@field device_code string
---@field user_code string show it to the user
---@field verification_uri string
---@field verification_url string show it to the user
---@field expires_in integer seconds
---@field interval integer seconds

---@class coze.auth.Device : coze.AppAuth
local Device = {}
---@param opts? { workspace_id?: string, on_wait?: function }
---@return coze.auth.DeviceCode|nil code
---@return coze.Error|nil err
function Device:get_device_code(opts) end
--- At most one request, none before the interval passed: token, info | false, wait_ms | nil, err.
---@param opts? { on_wait?: function }
---@return string|false|nil token
---@return coze.TokenInfo|integer|coze.Error|nil info_or_wait_or_err
function Device:poll_once(opts) end
---@param opts? { deadline_ms?: number, on_wait?: function, wait_ms?: number }
---@return string|nil token
---@return coze.TokenInfo|coze.Error|nil info_or_err
function Device:wait_for_token(opts) end

---@class coze.auth
local auth = {}
--- A personal or service access token.
---@param opts coze.auth.TokenOptions
---@return coze.Auth
function auth.token(opts) end
--- JWT OAuth app (server to server).
---@param opts coze.auth.JWTOptions
---@return coze.auth.JWT
function auth.jwt(opts) end
--- Authorization code + PKCE (public clients).
---@param opts coze.auth.PKCEOptions
---@return coze.auth.PKCE
function auth.pkce(opts) end
--- Authorization code with a client secret (web apps).
---@param opts coze.auth.WebOptions
---@return coze.auth.Web
function auth.web(opts) end
--- Device code (TVs, CLIs, consoles).
---@param opts coze.auth.DeviceOptions
---@return coze.auth.Device
function auth.device(opts) end
--- A PKCE code verifier of n characters (43..128).
---@param n? integer
---@return string
function auth.code_verifier(n) end
--- A lock for one Lua state (coroutines); pass your own for OpenResty (resty.lock).
---@return { lock: function, unlock: function }
function auth.local_lock() end
--- A token store for one Lua state; pass your own for OpenResty (ngx.shared.DICT).
---@return { get: function, set: function }
function auth.local_store() end
'''


def luals_name(n):
    return n if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", n) else "[" + lua_str(n) + "]"


def luals_defs(model, root, api):
    events = stream_events(api)
    _, max_pages = pager_defaults(root)
    out = [LUALS_HEAD]
    for n, t, meaning in call_options(root):
        lt = {"table": "table", "number": "number", "string": "string", "function": "function"}.get(t, "any")
        if n == "on_wait":
            lt = "fun(wait_ms: number)"
        elif n == "on_progress":
            lt = "fun(sent: integer, total: integer)"
        elif n == "on_chunk":
            lt = "fun(chunk: string)"
        elif n in ("headers", "query"):
            lt = "table<string, string|number>"
        out.append("---@field %s? %s %s\n" % (n, lt, one_line(re.sub(r"`", "", meaning), 100)))
    out.append(LUALS_COMMON)
    for profile, alias in (("chat", "coze.ChatEventName"), ("workflow", "coze.WorkflowEventName")):
        out.append("\n---@alias %s\n" % alias)
        for name, _, meaning in events[profile]:
            out.append("---| %s # %s\n" % (lua_str(name), one_line(meaning, 80)))

    # resource tree: client fields and one class per resource node
    nodes, children = [], {}
    methods = {}
    for m in model:
        parts = m["op"].split(".")
        for i in range(1, len(parts)):
            node = ".".join(parts[:i])
            parent = ".".join(parts[:i - 1])
            if node not in children:
                children[node] = []
                nodes.append(node)
                children.setdefault(parent, [])
                if node not in children[parent]:
                    children[parent].append(node)
        methods.setdefault(".".join(parts[:-1]), []).append(m)
    for name in EXTENSIONS:
        methods.setdefault(name.rsplit(".", 1)[0], []).append({"ext": name})

    out.append("\n-- Client and resources ----------------------------------------------------------------------\n\n")
    out.append("---@class coze.Client\n---@field base_url string\n---@field auth coze.Auth\n"
               "---@field websockets coze.Websockets\n")
    for child in children.get("", []):
        out.append("---@field %s coze.resource.%s\n" % (child, child))
    out.append("local Client = {}\n--- Drops the transport's connection cache.\nfunction Client:close() end\n")
    for node in nodes:
        cls = "coze.resource." + node
        var = "R_" + node.replace(".", "_")
        out.append("\n---@class %s\n" % cls)
        for child in children.get(node, []):
            out.append("---@field %s coze.resource.%s\n" % (child.rsplit(".", 1)[-1], child))
        out.append("local %s = {}\n" % var)
        for m in methods.get(node, []):
            out.append(luals_method(var, m))

    out.append("\n-- Options and results of the operations --------------------------------------------------\n")
    for m in model:
        out.append(luals_options(m, max_pages))
        if m["items"]:  # a page whose items' fields the catalog knows
            out.append("\n---@class coze.page.%s : coze.Page\n---@field items coze.item.%s[]\n" % (m["op"], m["op"]))
            out.append("---@class coze.item.%s\n" % m["op"])
            for n, t, enum in m["items"]:
                out.append("---@field %s? %s\n" % (luals_name(n), luals_type(t, enum, n, False)))
        if m["result"] and "stream" not in m["g"] and "paging" not in m["g"] and m["g"].get("response") != "binary":
            out.append("\n---@class coze.result.%s\n" % m["op"])
            for n, t, enum in m["result"]:
                out.append("---@field %s? %s\n" % (luals_name(n), luals_type(t, enum, n, False)))
    out.append("\nreturn coze\n")
    return "".join(out)


def luals_options(m, max_pages):
    out = ["\n---@class coze.opts.%s : coze.CallOptions\n" % m["op"]]
    for f in m["fields"]:
        out.append("---@field %s%s %s %s\n" % (luals_name(f["name"]), "" if f["required"] else "?", f["type"],
                                               ("(" + f["where"] + ") " + f["meaning"]).strip()))
    if "paging" in m["g"]:
        out.append("---@field max_pages? integer cap of the walk in pages (default %s)\n" % max_pages)
    for n, t, d in STREAM_OPTIONS.get(m["op"], []):
        out.append("---@field %s? %s %s\n" % (n, t, d))
    return "".join(out)


def luals_method(var, m):
    if "ext" in m:
        name = m["ext"]
        x = EXTENSIONS[name]
        out = ["\n---@class coze.opts.%s : coze.opts.%s\n" % (name, x["base"])]
        for n, t, d in x["extra"]:
            out.append("---@field %s? %s %s\n" % (n, t, d))
        out.append("\n--- %s\n" % x["doc"].replace("`", ""))
        out.append("---@param opts coze.opts.%s\n---@return %s|nil result\n---@return coze.Meta|coze.Error|nil meta_or_err\n"
                   "function %s:%s(opts) end\n" % (name, x["returns"], var, name.rsplit(".", 1)[-1]))
        return "".join(out)
    title = (m["title"] + " · ") if m["title"] else ""
    second = ("coze.Error|nil err" if "stream" in m["g"] else "coze.Meta|coze.Error|nil meta_or_err")
    return ("\n--- %s`%s %s`\n---@param opts coze.opts.%s\n---@return %s|nil result\n"
            "---@return %s\nfunction %s:%s(opts) end\n"
            % (title, m["method"], m["path"], m["op"], returns_of(m), second, var, m["op"].rsplit(".", 1)[-1]))


def main(argv):
    args = argv[1:]
    out_root = ROOT
    if len(args) >= 2 and args[0] == "--out":  # e.g. a temporary directory, to compare with the tree
        out_root = args[1]
        args = args[2:]
    api = args[0] if args else CATALOG
    rows, skipped, emu_ops, decisions = build(api)
    text, ndecisions = endpoints_lua(rows, skipped, decisions)
    model = reference_model(api, rows)
    outputs = {
        ENDPOINTS_LUA: text,
        CATALOG_DATA_LUA: catalog_data_lua(emu_ops),
        RESOURCES_MD: resources_md(rows, skipped),
        REFERENCE_MD: reference_md(model, ROOT, api),
        LUALS_DEFS: luals_defs(model, ROOT, api),
    }
    for rel, content in outputs.items():
        path = os.path.join(out_root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(content)
    print("%d methods, %d skipped rows, %d decisions" % (len(rows), len(skipped), ndecisions))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
