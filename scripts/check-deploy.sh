#!/usr/bin/env bash
# Checks everything under deploy/ without Docker or a Kubernetes cluster:
#   - the image: Dockerfile structure and build commands, its .dockerignore, the entrypoint and
#     healthcheck scripts (run against stub binaries and a local HTTP server);
#   - .env.example and k8s/config.env: every variable is one a service reads (its settings table
#     in the Rust sources) or one the deployment guide names, every setting a service reads is
#     in .env.example, secrets are empty, the format suits both compose and systemd;
#   - compose: YAML, the compose specification's schema (raw and interpolated with
#     .env.example), restart/healthcheck/logging/env_file on every service, distinct instance ids;
#   - systemd: systemd-analyze verify (ExecStart pointed at stubs in a temp copy), the hardening
#     directives, systemd-analyze security's exposure score;
#   - nginx: nginx -t on each configuration rendered with temp paths, and the EXRP test template
#     run for real on loopback in front of two local stand-ins and a dead port;
#   - Prometheus: promtool check rules / test rules / check config, every dashboard query parsed
#     by promtool, every metric name in alerts and dashboard present in the Rust sources;
#   - Kubernetes: kustomize render, the Kubernetes schemas (kubernetes-validate, strict), our
#     rules (non-root, read-only, probes, resources, EXCP instance ids from the pod names),
#     kubectl apply --dry-run=client when a cluster is configured.
# Installs what it lacks (nginx-light, prometheus for promtool, PyYAML, check-jsonschema,
# kubernetes-validate) from Debian packages or PyPI, and says so; a tool that cannot be had is
# reported as skipped. Idempotent; touches nothing outside a temp directory it removes.
# Exit 0 when every check passed (skips allowed), 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

say() { printf '[check-deploy] %s\n' "$*"; }
passed=0
failed=0
skipped=0
ok() { passed=$((passed + 1)); say "ok    $*"; }
bad() { failed=$((failed + 1)); say "FAIL  $*"; }
skip() { skipped=$((skipped + 1)); say "skip  $*"; }
section() { printf '\n[check-deploy] === %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
apt_updated=0
apt_install() { # packages...
  if [ "$apt_updated" = 0 ]; then
    say "apt-get update"
    $SUDO apt-get update -qq || return 1
    apt_updated=1
  fi
  say "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
pip_install() { # packages...
  say "installing from PyPI: $*"
  python3 -m pip install -q --disable-pip-version-check "$@" >/dev/null 2>&1 ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages "$@" >/dev/null 2>&1
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-deploy.XXXXXX")
chmod 0755 "$WORK"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do
    if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi
  done
  for p in "${PIDS[@]:-}"; do
    if [ -n "$p" ]; then wait "$p" 2>/dev/null || true; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port seconds
  for _ in $(seq 1 $(($2 * 10))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# --- tools ----------------------------------------------------------------------------------
section "tools"
command -v python3 >/dev/null 2>&1 || apt_install python3
if ! python3 -c 'import yaml' 2>/dev/null; then pip_install pyyaml || apt_install python3-yaml; fi
python3 -c 'import yaml' && say "python3 $(python3 -c 'import sys; print(sys.version.split()[0])') with PyYAML"
command -v curl >/dev/null 2>&1 || apt_install curl || true
command -v nginx >/dev/null 2>&1 || apt_install nginx-light || true
command -v promtool >/dev/null 2>&1 || apt_install prometheus || true
command -v check-jsonschema >/dev/null 2>&1 || pip_install check-jsonschema || true
command -v kubernetes-validate >/dev/null 2>&1 || pip_install kubernetes-validate || true
for t in nginx promtool systemd-analyze check-jsonschema kubernetes-validate kubectl curl; do
  if command -v "$t" >/dev/null 2>&1; then say "have $t"; else say "no $t: its checks are skipped"; fi
done

# The static checks, in Python: `python3 -c "$PY" TOPIC ARGS...` prints `ok ...`/`FAIL ...`
# lines and exits 1 when one failed.
PY=$(
  cat <<'PYEOF'
import fnmatch, json, os, re, sys
import yaml

ROOT = os.getcwd()
topic, args = sys.argv[1], sys.argv[2:]
fails = 0
def ok(m): print("ok    " + m)
def bad(m):
    global fails
    fails += 1
    print("FAIL  " + m)

SRC_DIRS = ["bins", "cfgdb", "gcex", "tlib", "statserver", "callmodel"]
def rust_files():
    for d in SRC_DIRS:
        for dp, dn, fn in os.walk(os.path.join(ROOT, d)):
            dn[:] = [x for x in dn if x not in ("target", "tests", "benches", "examples")]
            for f in fn:
                if f.endswith(".rs"):
                    yield os.path.join(dp, f)

def production_text(path):
    """A source file without comments and without its test module."""
    s = open(path, encoding="utf-8").read()
    m = re.search(r"#\[cfg\(test\)\]\s*\n\s*(pub(\(crate\))?\s+)?mod\s", s)
    if m:
        s = s[: m.start()]
    return "\n".join(l for l in s.splitlines() if not l.lstrip().startswith("//"))

def settings():
    """Every variable the services read, from their settings tables: {name: (aliases, secret)}."""
    out = {}
    gc_suffixes = []
    texts = {p: production_text(p) for p in rust_files()}
    for p, s in texts.items():
        mm = re.search(r"macro_rules!\s*gc_env_settings\s*\{(.*?)\n\}", s, re.S)
        if mm:
            gc_suffixes = re.findall(r'Setting::ours\(\s*concat!\(\$p,\s*"(_[A-Z0-9_]+)"\)', mm.group(1))
    for p, s in texts.items():
        starts = list(re.finditer(r'Setting::(guide|ours)\(\s*"([A-Z][A-Z0-9_]*)"', s))
        for i, m in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(s)
            seg = s[m.end():end]
            seg = seg[: seg.find("Setting::")] if "Setting::" in seg else seg
            aliases = []
            am = re.search(r"\.aliases\(&\[(.*?)\]\)", seg, re.S)
            if am:
                aliases = re.findall(r'"([A-Z][A-Z0-9_]*)"', am.group(1))
            out[m.group(2)] = (aliases, ".secret()" in seg[:400])
        for pm in re.finditer(r'gc_env_settings!\(\s*"([A-Z]+)"\s*\)', s):
            for sfx in gc_suffixes:
                out[pm.group(1) + sfx] = ([], sfx.endswith("SECRET"))
    return out

def looks_secret(name):
    n = name.lower()
    return any(w in n for w in ("password", "passwd", "secret", "token", "credential", "private_key", "privatekey"))

GUIDE = os.path.join(os.path.dirname(ROOT), "shared", "spec", "ex-engage-connector-deployment-guide.txt")
def guide_text():
    for p in (os.environ.get("ENGAGE_GUIDE", ""), GUIDE):
        if p and os.path.exists(p):
            return open(p, encoding="utf-8").read().replace("\\_", "_")
    return None

def env_file(path):
    """KEY=VALUE lines of an env file; commented-out assignments count as mentioned."""
    active, mentioned, problems = {}, set(), []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        c = re.match(r"#\s?([A-Z][A-Z0-9_]*)=", line)
        if c:
            mentioned.add(c.group(1)); continue
        if line.lstrip().startswith("#"):
            continue
        m = re.match(r"([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not m:
            problems.append(f"{os.path.basename(path)}:{n}: not KEY=value: {line!r}"); continue
        k, v = m.groups()
        if k in active:
            problems.append(f"{os.path.basename(path)}:{n}: {k} given twice")
        if v != v.strip() or v[:1] in ("\"", "'") or re.search(r"\s#", v):
            problems.append(f"{os.path.basename(path)}:{n}: {k}: quotes, padding or an inline comment (systemd would keep them)")
        active[k] = v
    return active, mentioned | set(active), problems

def known_var(name, table, guide):
    if name in table or any(name in a for a, _ in table.values()):
        return True
    return guide is not None and re.search(r"(?<![A-Z0-9_])" + re.escape(name) + r"(?![A-Z0-9_])", guide) is not None

def all_names(table):
    names = set(table)
    for a, _ in table.values():
        names.update(a)
    return names

# ---------------------------------------------------------------------------------------------
if topic == "env":
    table = settings()
    guide = guide_text()
    if guide is None:
        print("note  the deployment guide (../shared/spec) is not here: variables are checked against the Rust sources only")
    if len(table) < 50:
        bad(f"only {len(table)} settings found in the Rust sources: the settings-table parser is out of date")
    else:
        ok(f"{len(table)} settings read from the services' settings tables")
    # .env.example
    path = os.path.join(ROOT, "deploy/.env.example")
    active, mentioned, problems = env_file(path)
    for p in problems: bad(p)
    if not problems: ok(f".env.example: {len(active)} assignments, one per line, no quotes or inline comments")
    unknown = sorted(k for k in mentioned if not known_var(k, table, guide))
    if unknown: bad(".env.example names variables no service reads and the guide does not name: " + ", ".join(unknown))
    else: ok(".env.example: every variable is read by a service or named by the guide")
    missing = sorted(n for n, (aliases, _) in table.items()
                     if n not in mentioned and not any(a in mentioned for a in aliases))
    if missing: bad(".env.example lacks settings the services read: " + ", ".join(missing))
    else: ok(".env.example: every setting of every service's table is there (or an alias of it)")
    if guide is not None:
        groups = {}
        for n, (aliases, _) in table.items():
            for x in [n] + aliases:
                groups[x] = {n, *aliases}
        named = set(re.findall(r"\b(?:EXEC|EXCS|EXAS|EXCP|EXRP|LOG|TENANT|SYNC)_[A-Z0-9_]+", guide))
        named = {n for n in named if not re.search(r"(_IPADDR\d*|_VMHOST_IPADDRESS)$", n)
                 and n not in ("LOG_LEVEL", "LOG_FILENAME")}  # placeholders, "<SERVICE>_LOG_..." fragments
        absent = sorted(n for n in named if not (groups.get(n, {n}) & mentioned))
        if absent: bad(".env.example lacks variables of the guide: " + ", ".join(absent))
        else: ok(f".env.example: every one of the guide's {len(named)} variables is there (or the setting it spells)")
    secrets = sorted(k for k, v in active.items() if v and (looks_secret(k) or table.get(k, ([], False))[1]))
    if secrets: bad(".env.example holds secret values: " + ", ".join(secrets))
    else: ok(".env.example: every secret is empty")
    ids = sorted(k for k in active if k.endswith("_INSTANCE_ID"))
    if ids: bad(".env.example sets per-instance ids (shared by every instance): " + ", ".join(ids))
    else: ok(".env.example: no per-instance id (compose, systemd and k8s set them per instance)")
    # Kubernetes env files
    for rel in ("deploy/k8s/config.env", "deploy/k8s/excp-1.env"):
        active, mentioned, problems = env_file(os.path.join(ROOT, rel))
        for p in problems: bad(p)
        unknown = sorted(k for k in mentioned if not known_var(k, table, guide))
        if unknown: bad(f"{rel} names unknown variables: " + ", ".join(unknown))
        sec = sorted(k for k in active if looks_secret(k) or table.get(k, ([], False))[1])
        if sec: bad(f"{rel} (a ConfigMap) holds secret settings: " + ", ".join(sec))
        if not problems and not unknown and not sec:
            ok(f"{rel}: {len(active)} settings, all read by a service, no secret")
    # systemd Environment= names
    for f in sorted(os.listdir(os.path.join(ROOT, "deploy/systemd"))):
        for m in re.finditer(r"^Environment=([A-Z0-9_]+)=", open(os.path.join(ROOT, "deploy/systemd", f)).read(), re.M):
            if m.group(1) not in all_names(table): bad(f"systemd/{f}: Environment={m.group(1)} is not a setting")
    ok("systemd units: Environment= names are settings")

elif topic == "compose":
    table = settings()
    names = all_names(table)
    IMAGE_VARS = {"ENGAGE_SERVICE", "ENGAGE_PORT", "ENGAGE_HEALTH_PATH"}
    env_active, env_mentioned, _ = env_file(os.path.join(ROOT, "deploy/.env.example"))
    outdir = args[0]
    seen_ids = {}
    def interpolate(s, env, where):
        def rep(m):
            if m.group(0) == "$$": return "$"
            name, op, arg = m.group(1), m.group(2) or "", m.group(3) or ""
            val = env.get(name)
            if name not in env_mentioned:
                bad(f"{where}: ${{{name}}} is not in .env.example")
            empty = val is None or (op.startswith(":") and val == "")
            if op in (":-", "-"): return arg if empty else val
            if op in (":?", "?"):
                if empty: bad(f"{where}: ${{{name}}} is required and .env.example leaves it empty")
                return val or ""
            if op in (":+", "+"): return "" if empty else arg
            return val or ""
        return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}", rep, s)
    for f in sorted(os.listdir(os.path.join(ROOT, "deploy/compose"))):
        if not f.endswith(".yml"): continue
        path = os.path.join(ROOT, "deploy/compose", f)
        raw = open(path, encoding="utf-8").read()
        try:
            doc = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            bad(f"compose/{f}: not YAML: {e}"); continue
        rendered = interpolate(raw, env_active, f"compose/{f}")
        doc_r = yaml.safe_load(rendered)
        open(os.path.join(outdir, f), "w").write(yaml.safe_dump(doc_r, sort_keys=False))
        problems = []
        if not isinstance(doc.get("name"), str): problems.append("no project name")
        svcs = doc.get("services") or {}
        if not svcs: problems.append("no services")
        for sn, s in svcs.items():
            for key in ("image", "env_file", "restart", "healthcheck", "logging", "stop_grace_period", "networks"):
                if key not in s: problems.append(f"{sn}: no {key}")
            if s.get("restart") not in ("unless-stopped", "always", "on-failure"):
                problems.append(f"{sn}: restart is {s.get('restart')!r}")
            if s.get("logging", {}).get("options", {}).get("max-size") is None:
                problems.append(f"{sn}: logs are not rotated (logging.options.max-size)")
            env = s.get("environment") or {}
            if f != "redis.yml":
                if "${EXEC_DOCKER_REPOSITORY" not in s.get("image", "") or "_TAG" not in s.get("image", ""):
                    problems.append(f"{sn}: image is not <EXEC_DOCKER_REPOSITORY>/engage-connector:<..._TAG>")
                if env.get("ENGAGE_SERVICE") not in ("excs", "exas", "excp", "exrp"):
                    problems.append(f"{sn}: ENGAGE_SERVICE is {env.get('ENGAGE_SERVICE')!r}")
                if not any("/rup/logs" in str(v) for v in s.get("volumes", [])):
                    problems.append(f"{sn}: no log volume at /rup/logs")
                if "no-new-privileges:true" not in (s.get("security_opt") or []) or "ALL" not in (s.get("cap_drop") or []):
                    problems.append(f"{sn}: not hardened (no-new-privileges, cap_drop ALL)")
                for k in env:
                    if k not in names and k not in IMAGE_VARS:
                        problems.append(f"{sn}: environment {k} is not a setting")
                for k in ("EXCP_INSTANCE_ID", "EXRP_INSTANCE_ID", "EXAS_INSTANCE_ID"):
                    if k in env:
                        if env[k] in seen_ids: problems.append(f"{sn}: {k}={env[k]} also used by {seen_ids[env[k]]}")
                        seen_ids[env[k]] = sn
                if env.get("ENGAGE_SERVICE") in ("excp", "exrp") and f"{env['ENGAGE_SERVICE'].upper()}_INSTANCE_ID" not in env:
                    problems.append(f"{sn}: no stable instance id")
            for v in (doc_r["services"][sn].get("ports") or []):
                if not re.fullmatch(r"(\d+\.\d+\.\d+\.\d+:)?\d+:\d+", str(v)):
                    problems.append(f"{sn}: port mapping {v!r} after interpolation")
            for v in s.get("volumes", []):
                src = str(v).split(":")[0]
                if not src.startswith(("$", "/", ".")) and src not in (doc.get("volumes") or {}):
                    problems.append(f"{sn}: volume {src} is not declared")
        for p in problems: bad(f"compose/{f}: {p}")
        if not problems:
            ok(f"compose/{f}: {', '.join(svcs)}: env_file, restart, healthcheck, rotated logs, hardening; interpolates from .env.example")

elif topic == "dockerfile":
    df = open(os.path.join(ROOT, "deploy/Dockerfile"), encoding="utf-8").read()
    lines, cur = [], ""
    for l in df.splitlines():
        if l.lstrip().startswith("#") and not cur: continue
        if not l.strip() and not cur: continue
        cur += l.rstrip("\\").rstrip() + " " if l.rstrip().endswith("\\") else l
        if not l.rstrip().endswith("\\"):
            lines.append(cur.strip()); cur = ""
    KNOWN = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
             "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
    instr = [(l.split()[0].upper(), l) for l in lines]
    unknown = [i for i, _ in instr if i not in KNOWN]
    if unknown: bad("Dockerfile: unknown instructions " + ", ".join(unknown))
    else: ok(f"Dockerfile: {len(instr)} instructions, all known")
    froms = [l for i, l in instr if i == "FROM"]
    if len(froms) == 2 and re.search(r"rust:1\.\d+-bookworm AS build", froms[0]) and "debian:bookworm-slim" in froms[1]:
        ok("Dockerfile: multi-stage, rust bookworm builder, debian:bookworm-slim runtime")
    else: bad("Dockerfile: expected FROM rust:1.x-bookworm AS build and FROM debian:bookworm-slim: " + " | ".join(froms))
    runs = " ".join(l for i, l in instr if i == "RUN")
    for cmd in ("cargo build --release --locked -p engage-connector", "cargo build --release --locked -p engage-exec --no-default-features"):
        if cmd in runs: ok(f"Dockerfile builds with `{cmd}`")
        else: bad(f"Dockerfile does not run `{cmd}`")
    if "--workspace" in runs: bad("Dockerfile builds --workspace (would unify the simulators' features)")
    m = re.search(r"for b in ([a-z ]+); do install", runs)
    if m and set(m.group(1).split()) >= {"excs", "exas", "excp", "exrp", "exec"}: ok("Dockerfile installs excs, exas, excp, exrp, exec")
    else: bad("Dockerfile does not install every binary")
    if re.search(r"apt-get install[^;]*\btini\b", runs) and any(i == "ENTRYPOINT" and "/usr/bin/tini" in l for i, l in instr):
        ok("Dockerfile: tini from Debian is PID 1")
    else: bad("Dockerfile: tini is not the entrypoint")
    users = [l.split()[1] for i, l in instr if i == "USER"]
    if users and users[-1].split(":")[0] not in ("root", "0"): ok(f"Dockerfile: runs as {users[-1]}")
    else: bad("Dockerfile: no non-root USER")
    hc = [l for i, l in instr if i == "HEALTHCHECK"]
    if hc and "engage-healthcheck" in hc[0]: ok("Dockerfile: HEALTHCHECK on the service's /health")
    else: bad("Dockerfile: no HEALTHCHECK")
    # .dockerignore: what the build context keeps
    pats = []
    for l in open(os.path.join(ROOT, "deploy/Dockerfile.dockerignore"), encoding="utf-8"):
        l = l.strip()
        if l and not l.startswith("#"): pats.append(l)
    def rx(p):
        out, i = "", 0
        while i < len(p):
            if p[i:i + 3] == "**/": out += "(.*/)?"; i += 3
            elif p[i:i + 2] == "**": out += ".*"; i += 2
            elif p[i] == "*": out += "[^/]*"; i += 1
            elif p[i] == "?": out += "[^/]"; i += 1
            else: out += re.escape(p[i]); i += 1
        return re.compile(out + r"$")
    rules = [(p.startswith("!"), rx(p.lstrip("!").strip("/"))) for p in pats]
    def ignored(path):
        parts = path.split("/")
        res = False
        for neg, r in rules:
            for k in range(1, len(parts) + 1):
                if r.match("/".join(parts[:k])):
                    res = not neg
                    break
        return res
    want_in = ["Cargo.toml", "Cargo.lock", "deploy/docker/entrypoint.sh", "deploy/docker/healthcheck.sh", "cfgdb/sql/postgres.sql"]
    members = re.findall(r'"([^"]+)"', re.search(r"members\s*=\s*\[(.*?)\]", open(os.path.join(ROOT, "Cargo.toml")).read(), re.S).group(1))
    want_in += [m + "/Cargo.toml" for m in members]
    for i, l in instr:
        if i == "COPY" and "--from=" not in l:
            want_in += [x for x in l.split()[1:-1] if not x.startswith("--") and x != "."]
    want_in = list(dict.fromkeys(want_in))
    kept_out = [p for p in want_in if ignored(p)]
    if kept_out: bad("Dockerfile.dockerignore excludes what the build needs: " + ", ".join(kept_out))
    else: ok(f"Dockerfile.dockerignore keeps the {len(members)} workspace members, Cargo.lock and the image scripts")
    for p in ("target", "target/release/excs", ".git", "bins/target"):
        if not ignored(p): bad(f"Dockerfile.dockerignore does not exclude {p}")
    ok("Dockerfile.dockerignore excludes target/ and .git/")
    missing = [p for p in want_in if not os.path.exists(os.path.join(ROOT, p))]
    if missing: bad("Dockerfile copies files that do not exist: " + ", ".join(missing))

elif topic == "metrics":
    # metric names the Rust sources register, and those alerts/dashboard use
    literals = set()
    for p in rust_files():
        literals.update(re.findall(r'"([a-z][a-z0-9_]*)"', production_text(p)))
    registered = {l for l in literals if re.match(r"(excs|exas|excp|exrp)_[a-z0-9_]+$", l)}
    KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                "group_left", "group_right", "inf", "nan", "atan2"}
    def metric_names(expr):
        e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
        e = re.sub(r"\{[^}]*\}", "", e)
        e = re.sub(r"\[[^\]]*\]", "", e)
        e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
        out = set()
        for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
            tok = m.group(0)
            rest = e[m.end():].lstrip()
            if tok in KEYWORDS or rest.startswith("("): continue
            if re.fullmatch(r"\d+[smhdwy]", tok): continue
            out.add(tok)
        return out
    exprs = []
    alerts = yaml.safe_load(open(os.path.join(ROOT, "deploy/alerts/engage-connector.rules.yml")))
    for g in alerts["groups"]:
        for r in g["rules"]:
            exprs.append(("alert " + r.get("alert", r.get("record", "?")), r["expr"]))
    dash = json.load(open(os.path.join(ROOT, "deploy/dashboards/engage-connector.json")))
    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))
    dash_exprs = []
    for p in walk(dash.get("panels", [])):
        for t in p.get("targets", []):
            exprs.append((f"panel {p.get('title')!r}", t["expr"])); dash_exprs.append(t["expr"])
    used = {}
    for where, e in exprs:
        for n in metric_names(e):
            used.setdefault(n, where)
    unknown = sorted(n for n in used if n != "up" and n not in literals)
    if unknown:
        bad("metric names used in alerts/dashboard that no Rust source registers: " + ", ".join(f"{n} ({used[n]})" for n in unknown))
    else:
        ok(f"{len(used)} metric names in {len(exprs)} alert and dashboard queries, all registered in the Rust sources (plus Prometheus' up)")
    shown = set()
    for e in dash_exprs: shown |= metric_names(e)
    alerted = set()
    for g in alerts["groups"]:
        for r in g["rules"]: alerted |= metric_names(r["expr"])
    not_shown = sorted(registered - shown)
    if not_shown: bad("metrics the services register that the dashboard does not show: " + ", ".join(not_shown))
    else: ok(f"the dashboard shows every one of the {len(registered)} metrics the services register")
    print("note  metrics no alert uses: " + ", ".join(sorted(registered - alerted)))
    # the dashboard's queries as recording rules, for promtool to parse
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": e.replace("$__rate_interval", "5m")} for i, e in enumerate(dash_exprs)]}]}
    open(args[0], "w").write(yaml.safe_dump(rules))
    # dashboard structure
    ids = [p["id"] for p in walk(dash["panels"])]
    if len(ids) != len(set(ids)): bad("dashboard: panel ids repeat")
    elif any(t.get("datasource", {}).get("uid") != "${datasource}" for p in walk(dash["panels"]) for t in p.get("targets", [])):
        bad("dashboard: a query does not use the ${datasource} variable")
    else: ok(f"dashboard: {len(ids)} panels, unique ids, every query on the ${{datasource}} variable")

elif topic == "k8s":
    table = settings()
    names = all_names(table)
    docs = [d for d in yaml.safe_load_all(open(args[0])) if d]
    by = {}
    for d in docs: by.setdefault(d["kind"], []).append(d)
    cms = {d["metadata"]["name"]: d for d in by.get("ConfigMap", [])}
    for n, cm in cms.items():
        for k in cm.get("data", {}):
            if k not in names: bad(f"ConfigMap {n}: {k} is not a setting")
    ok(f"{len(docs)} objects rendered: " + ", ".join(f"{len(v)} {k}" for k, v in sorted(by.items())))
    want = {"excs": ("Deployment", 1), "exas": ("Deployment", 2), "excp": ("StatefulSet", 2), "exrp": ("Deployment", 2)}
    workloads = by.get("Deployment", []) + by.get("StatefulSet", [])
    for comp, (kind, replicas) in want.items():
        ws = [w for w in workloads if w["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == comp]
        if not ws: bad(f"no workload for {comp}"); continue
        for w in ws:
            name, spec, pod = w["metadata"]["name"], w["spec"], w["spec"]["template"]["spec"]
            problems = []
            if w["kind"] != kind: problems.append(f"is a {w['kind']}, not a {kind}")
            if comp in ("exrp",) and spec.get("replicas", 1) < replicas: problems.append(f"replicas {spec.get('replicas')} < {replicas}")
            elif comp != "exrp" and spec.get("replicas", 1) != replicas: problems.append(f"replicas {spec.get('replicas')} != {replicas}")
            if comp == "excs" and spec.get("strategy", {}).get("type") != "Recreate": problems.append("EXCS must not overlap: strategy Recreate")
            psc = pod.get("securityContext", {})
            if not psc.get("runAsNonRoot") or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault": problems.append("pod not runAsNonRoot/seccomp")
            if pod.get("enableServiceLinks") is not False: problems.append("enableServiceLinks is not false (FOO_PORT=tcp://... would shadow EXCP_PORT...)")
            if pod.get("automountServiceAccountToken") is not False: problems.append("a service account token is mounted")
            for c in pod["containers"]:
                sc = c.get("securityContext", {})
                if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False or "ALL" not in sc.get("capabilities", {}).get("drop", []):
                    problems.append(f"container {c['name']}: not read-only / no-escalation / caps dropped")
                for pr in ("livenessProbe", "readinessProbe", "startupProbe"):
                    if pr not in c: problems.append(f"container {c['name']}: no {pr}")
                res = c.get("resources", {})
                if not res.get("requests") or "memory" not in res.get("limits", {}): problems.append(f"container {c['name']}: no requests or memory limit")
                env = {e["name"]: e for e in c.get("env", [])}
                if env.get("ENGAGE_SERVICE", {}).get("value") != comp: problems.append("ENGAGE_SERVICE is not " + comp)
                for en, e in env.items():
                    if en != "ENGAGE_SERVICE" and en not in names: problems.append(f"env {en} is not a setting")
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    if ref and not ref.get("optional"): problems.append(f"secret key {en} is not optional")
                    if looks_secret(en) and "value" in e: problems.append(f"{en} is given in clear")
                if comp in ("excp", "exrp", "exas"):
                    iid = env.get(comp.upper() + "_INSTANCE_ID", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                    if iid != "metadata.name": problems.append(f"{comp.upper()}_INSTANCE_ID is not the pod's name")
                for ef in c.get("envFrom", []):
                    n = ef.get("configMapRef", {}).get("name")
                    if n and n not in cms: problems.append(f"envFrom ConfigMap {n} is not rendered")
            svcs = [s for s in by.get("Service", []) if s["spec"].get("selector", {}).get("app.kubernetes.io/component") == comp]
            pdbs = [p for p in by.get("PodDisruptionBudget", []) if p["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component") == comp]
            if not svcs: problems.append("no Service")
            if not pdbs: problems.append("no PodDisruptionBudget")
            for p in problems: bad(f"{w['kind']} {name}: {p}")
            if not problems:
                ok(f"{w['kind']} {name}: {spec.get('replicas', 1)} replica(s), non-root read-only, probes, resources, Service, PodDisruptionBudget")

elif topic == "run":
    # The built binaries' --check-config on the environment each deployment gives them.
    import subprocess
    bindir, compose_dir, k8s_file = args
    SAMPLE = {  # values for the mandatory settings .env.example leaves to the operator
        "EXEC_ORG_ID": "6662cb10-0d4d-4710-b979-db69011e66fd", "EXEC_TENANT_ID": "101",
        "EXCS_CONFIG_DB_HOST": "cfgdb.example", "EXCS_CONFIG_DB_NAME": "config", "EXCS_CONFIG_DB_USER": "genesys",
        "EXAS_STAT_SERVER_PRIMARY_HOST": "stat1.example", "EXAS_STAT_SERVER_BACKUP_HOST": "stat2.example",
        "EXCP_1_VOICE_SERVER_VQ": "sip1:8000/sip2:8000", "EXCP_1_VOICE_SERVER_AGENT": "sip1:8000/sip2:8000",
        "EXCP_1_VOICE_SERVER_CALL": "sip1:8000/sip2:8000", "EXCP_VOICE_SERVER_VQ": "sip1:8000/sip2:8000",
        "EXCP_VOICE_SERVER_AGENT": "sip1:8000/sip2:8000", "EXCP_VOICE_SERVER_CALL": "sip1:8000/sip2:8000",
    }
    BOOTSTRAP = re.compile(r"^(EXCS_VM_HOST|EXCP_1_VM_HOST_PAIR|EXRP_VM_HOST_LIST|[A-Z]+(_1)?_TAG)$")
    def check(what, binary, env):
        env = {k: v for k, v in env.items() if v is not None}
        env["PATH"] = "/usr/bin:/bin"
        r = subprocess.run([os.path.join(bindir, binary), "--check-config"], env=env, capture_output=True, text=True, timeout=60)
        notes = [l for l in (r.stdout + r.stderr).splitlines() if l.startswith("note:")]
        odd = [l for l in notes if not BOOTSTRAP.match(l.split()[1])]
        if r.returncode != 0:
            bad(f"{what}: {binary} --check-config exit {r.returncode}: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
        else:
            ok(f"{what}: {binary} --check-config accepts it" + (f" ({len(notes) - len(odd)} bootstrap variables noted as unread)" if notes else ""))
        for l in odd:
            print(f"note  {what}: {l}")
    base, _, _ = env_file(os.path.join(ROOT, "deploy/.env.example"))
    base = dict(base, **{k: v for k, v in SAMPLE.items() if k in base})
    for f in sorted(os.listdir(compose_dir)):
        doc = yaml.safe_load(open(os.path.join(compose_dir, f)))
        for sn, s in doc["services"].items():
            env = {k: str(v) for k, v in (s.get("environment") or {}).items()}
            if env.get("ENGAGE_SERVICE"):
                check(f"compose {sn}", env["ENGAGE_SERVICE"], dict(base, **env))
    for f in sorted(os.listdir(os.path.join(ROOT, "deploy/systemd"))):
        text = open(os.path.join(ROOT, "deploy/systemd", f)).read()
        binary = re.search(r"^ExecStart=/usr/local/bin/(\w+)", text, re.M).group(1)
        env = {m.group(1): m.group(2).replace("%H", "host1").replace("%i", "1-1")
               for m in re.finditer(r"^Environment=([A-Z0-9_]+)=(.*)$", text, re.M)}
        check(f"systemd {f}", binary, dict(base, **env))
    docs = [d for d in yaml.safe_load_all(open(k8s_file)) if d]
    cms = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    for w in docs:
        if w["kind"] not in ("Deployment", "StatefulSet"): continue
        for c in w["spec"]["template"]["spec"]["containers"]:
            env = {}
            for ef in c.get("envFrom", []):
                env.update(cms[ef["configMapRef"]["name"]])
            env.update(SAMPLE)
            for e in c.get("env", []):
                if "value" in e: env[e["name"]] = e["value"]
                elif "fieldRef" in e.get("valueFrom", {}): env[e["name"]] = w["metadata"]["name"] + "-0"
            check(f"k8s {w['kind']} {w['metadata']['name']}", env["ENGAGE_SERVICE"], env)

elif topic == "yaml":
    n = 0
    for path in args:
        try:
            list(yaml.safe_load_all(open(path, encoding="utf-8"))); n += 1
        except yaml.YAMLError as e:
            bad(f"{os.path.relpath(path, ROOT)}: not YAML: {e}")
    ok(f"{n} YAML files parse")

else:
    bad("unknown topic " + topic)
sys.exit(1 if fails else 0)
PYEOF
)

# Runs a Python topic, counting its ok/FAIL lines.
py() { # topic args...
  local out rc=0
  out=$(python3 -c "$PY" "$@" 2>&1) || rc=$?
  while IFS= read -r line; do
    case "$line" in
      "ok    "*) ok "${line#ok    }" ;;
      "FAIL  "*) bad "${line#FAIL  }" ;;
      "") ;;
      *) say "$line" ;;
    esac
  done <<<"$out"
  if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' <<<"$out"; then bad "python check '$1' crashed (exit $rc)"; fi
}

# --- files parse ----------------------------------------------------------------------------
section "YAML and JSON"
mapfile -t yamls < <(find deploy -name '*.yml' -o -name '*.yaml' | sort)
py yaml "${yamls[@]}"
if python3 -m json.tool deploy/dashboards/engage-connector.json >/dev/null; then
  ok "deploy/dashboards/engage-connector.json is valid JSON"
else
  bad "deploy/dashboards/engage-connector.json is not valid JSON"
fi

# --- image ----------------------------------------------------------------------------------
section "image: Dockerfile, .dockerignore, entrypoint, healthcheck"
py dockerfile
for s in deploy/docker/entrypoint.sh deploy/docker/healthcheck.sh; do
  if sh -n "$s"; then ok "$s parses (sh -n)"; else bad "$s does not parse"; fi
done
if command -v shellcheck >/dev/null 2>&1; then
  if shellcheck -s sh deploy/docker/*.sh; then ok "shellcheck deploy/docker/*.sh"; else bad "shellcheck deploy/docker/*.sh"; fi
fi
# The entrypoint against stub binaries (its bindir pointed at a temp directory).
stub="$WORK/bin"
mkdir -p "$stub"
for b in excs exas excp exrp exec; do
  printf '#!/bin/sh\necho "%s $*"\n' "$b" >"$stub/$b"
  chmod +x "$stub/$b"
done
sed "s#^bindir=.*#bindir=$stub#" deploy/docker/entrypoint.sh >"$WORK/entrypoint.sh"
ep_case() { # description expected-output ENV=value args...
  local desc=$1 want=$2 envv=$3 got
  shift 3
  got=$(env -i PATH=/usr/bin:/bin "$envv" sh "$WORK/entrypoint.sh" "$@" 2>&1 || true)
  if [ "$got" = "$want" ]; then ok "entrypoint: $desc -> '$got'"; else bad "entrypoint: $desc: got '$got', want '$want'"; fi
}
ep_case "ENGAGE_SERVICE=excp, no argument" "excp " ENGAGE_SERVICE=excp
ep_case "ENGAGE_SERVICE=exrp --check-config" "exrp --check-config" ENGAGE_SERVICE=exrp --check-config
ep_case "a binary as first argument" "exec doctor" ENGAGE_SERVICE=excs exec doctor
ep_case "another command" "hello" ENGAGE_SERVICE=excs echo hello
ep_case "no ENGAGE_SERVICE" "engage-entrypoint: set ENGAGE_SERVICE to one of: excs exas excp exrp (or give the binary as the first argument)" X=1
ep_case "ENGAGE_SERVICE=exec" "engage-entrypoint: ENGAGE_SERVICE=exec is not one of: excs exas excp exrp" ENGAGE_SERVICE=exec
# The healthcheck against a local HTTP server: 200 on /health and /metrics, then 503 on /health.
if command -v curl >/dev/null 2>&1; then
  hport=$(free_port)
  cat >"$WORK/health_server.py" <<'EOF'
import http.server, sys
state = {"code": 200}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path == "/flip":
            state["code"] = 503; code = 200
        elif self.path == "/health":
            code = state["code"]
        elif self.path == "/metrics":
            code = 200
        else:
            code = 404
        self.send_response(code); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
  python3 "$WORK/health_server.py" "$hport" &
  PIDS+=($!)
  if wait_port "$hport" 10; then
    hc() { env -i PATH=/usr/bin:/bin "$@" sh deploy/docker/healthcheck.sh >/dev/null 2>&1; }
    if hc ENGAGE_SERVICE=exrp EXRP_PORT="$hport"; then ok "healthcheck: exrp on EXRP_PORT, /health 200 -> healthy"; else bad "healthcheck: /health 200 not healthy"; fi
    if hc ENGAGE_SERVICE=excp EXCP_PORT="" EXCP_1_PORT="$hport"; then ok "healthcheck: excp on the bootstrap's EXCP_1_PORT"; else bad "healthcheck: EXCP_1_PORT not used"; fi
    if hc ENGAGE_SERVICE=excs ENGAGE_PORT="$hport"; then ok "healthcheck: ENGAGE_PORT overrides"; else bad "healthcheck: ENGAGE_PORT not used"; fi
    curl -fsS "http://127.0.0.1:$hport/flip" >/dev/null
    if ! hc ENGAGE_SERVICE=exas EXAS_PORT="$hport"; then ok "healthcheck: /health 503 -> unhealthy"; else bad "healthcheck: /health 503 reported healthy"; fi
    if hc ENGAGE_SERVICE=exas EXAS_PORT="$hport" ENGAGE_HEALTH_PATH=/metrics; then ok "healthcheck: ENGAGE_HEALTH_PATH=/metrics (a standby EXAS)"; else bad "healthcheck: ENGAGE_HEALTH_PATH ignored"; fi
    if ! hc ENGAGE_SERVICE=nope; then ok "healthcheck: an unknown ENGAGE_SERVICE is unhealthy"; else bad "healthcheck: unknown service healthy"; fi
  else
    bad "healthcheck: the local HTTP server did not start"
  fi
else
  skip "healthcheck run (no curl)"
fi

# --- .env -------------------------------------------------------------------------------------
section "settings: .env.example, k8s env files, systemd Environment="
py env

# --- compose ---------------------------------------------------------------------------------
section "compose"
mkdir -p "$WORK/compose"
py compose "$WORK/compose"
if command -v check-jsonschema >/dev/null 2>&1; then
  for f in deploy/compose/*.yml; do
    if out=$(check-jsonschema --builtin-schema vendor.compose-spec "$f" "$WORK/compose/$(basename "$f")" 2>&1); then
      ok "$f matches the compose specification (as written and interpolated)"
    else
      bad "$f against the compose specification: $out"
    fi
  done
else
  skip "compose schema (no check-jsonschema)"
fi

# --- systemd ---------------------------------------------------------------------------------
section "systemd"
for f in deploy/systemd/*.service; do
  missing=""
  for d in "User=engage" "EnvironmentFile=/etc/engage-connector/engage.env" "Restart=on-failure" "NoNewPrivileges=yes" \
    "ProtectSystem=strict" "KillSignal=SIGTERM" "TimeoutStopSec=" "ReadWritePaths=" "LogsDirectory=" "CapabilityBoundingSet="; do
    grep -q "^$d" "$f" || missing="$missing $d"
  done
  if [ -z "$missing" ]; then ok "$f: user, env file, restart, hardening, SIGTERM + stop timeout"; else bad "$f lacks:$missing"; fi
done
if command -v systemd-analyze >/dev/null 2>&1; then
  sd="$WORK/systemd"
  mkdir -p "$sd"
  for f in deploy/systemd/*.service; do
    n=$(basename "$f")
    case "$n" in *@.service) n="${n%@.service}@1-1.service" ;; esac
    sed "s#/usr/local/bin/#$stub/#" "$f" >"$sd/$n"
    if out=$(cd "$sd" && systemd-analyze verify --man=no "./$n" 2>&1) && [ -z "$out" ]; then
      ok "systemd-analyze verify $n (ExecStart on a stub)"
    else
      bad "systemd-analyze verify $n: $out"
    fi
    if score=$(cd "$sd" && systemd-analyze security --offline=yes "./$n" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p') && [ -n "$score" ]; then
      if python3 -c "import sys; sys.exit(0 if float('$score') <= 2.0 else 1)"; then
        ok "systemd-analyze security $n: exposure $score (<= 2.0)"
      else
        bad "systemd-analyze security $n: exposure $score (> 2.0)"
      fi
    else
      skip "systemd-analyze security --offline on $n (not supported here)"
    fi
  done
else
  skip "systemd-analyze verify (not installed)"
fi

# --- nginx -----------------------------------------------------------------------------------
section "nginx"
if command -v nginx >/dev/null 2>&1; then
  ng="$WORK/nginx"
  mkdir -p "$ng/prod" "$ng/lb"
  cp deploy/nginx/nginx.conf deploy/nginx/nginx-upstreams.conf "$ng/prod/"
  # Temp paths for the pid, the logs and the temp files; everything else as shipped.
  sed -i -e "s#/run/nginx.pid#$ng/prod/nginx.pid#" -e "s#/var/log/nginx/#$ng/prod/#g" \
    -e "s#^http {#http {\n    client_body_temp_path $ng/prod/body; proxy_temp_path $ng/prod/proxy; fastcgi_temp_path $ng/prod/fcgi; uwsgi_temp_path $ng/prod/uwsgi; scgi_temp_path $ng/prod/scgi;#" \
    "$ng/prod/nginx.conf"
  if [ "$(id -u)" -ne 0 ]; then sed -i 's/^user .*;//' "$ng/prod/nginx.conf"; fi
  if out=$(nginx -t -q -e "$ng/prod/error.log" -c "$ng/prod/nginx.conf" 2>&1); then
    ok "nginx -t deploy/nginx/nginx.conf + nginx-upstreams.conf"
  else
    bad "nginx -t deploy/nginx/nginx.conf: $out"
  fi
  # The test template, rendered and run: two EXRP stand-ins and a dead port behind it.
  lbport=$(free_port)
  b1=$(free_port)
  b2=$(free_port)
  dead=$(free_port)
  cat >"$WORK/exrp_stub.py" <<'EOF'
import http.server, json, sys
name, port = sys.argv[1], int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body):
        b = json.dumps(body).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        if self.path == "/health": self.reply(200, {"status": "UP", "instance": name})
        else: self.reply(200, {"instance": name, "path": self.path})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); self.rfile.read(n)
        self.reply(202, {"instance": name, "path": self.path})
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
  python3 "$WORK/exrp_stub.py" exrp-a "$b1" &
  PIDS+=($!)
  python3 "$WORK/exrp_stub.py" exrp-b "$b2" &
  PIDS+=($!)
  ups="server 127.0.0.1:$b1 max_fails=1 fail_timeout=5s; server 127.0.0.1:$dead max_fails=1 fail_timeout=5s; server 127.0.0.1:$b2 max_fails=1 fail_timeout=5s;"
  sed -e "s#@DIR@#$ng/lb#g" -e "s#@PORT@#$lbport#g" -e "s#@UPSTREAMS@#$ups#" deploy/nginx/exrp-lb.conf.template >"$ng/lb/nginx.conf"
  if grep -q '@[A-Z]*@' "$ng/lb/nginx.conf"; then bad "exrp-lb.conf.template: a placeholder is left after rendering"; fi
  if out=$(nginx -t -q -e "$ng/lb/error.log" -c "$ng/lb/nginx.conf" 2>&1); then
    ok "nginx -t deploy/nginx/exrp-lb.conf.template (rendered)"
    nginx -e "$ng/lb/error.log" -c "$ng/lb/nginx.conf" &
    PIDS+=($!)
    if wait_port "$lbport" 10 && wait_port "$b1" 10 && wait_port "$b2" 10; then
      base="http://127.0.0.1:$lbport"
      codes=""
      : >"$ng/lb/served"
      for i in $(seq 1 12); do
        r=$(curl -sS -o "$ng/lb/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
          --data "{\"conversationId\":\"c$i\"}" "$base/api/v1/interaction-end" || echo 000)
        codes="$codes $r"
        grep -o '"instance": "[^"]*"' "$ng/lb/body" | cut -d'"' -f4 >>"$ng/lb/served" || true
      done
      if [ "$(tr ' ' '\n' <<<"$codes" | grep -c '^202$')" = 12 ]; then
        ok "template: 12 POST /api/v1/interaction-end through the balancer, all 202 (a dead instance in the upstream)"
      else
        bad "template: POST answers:$codes"
      fi
      if grep -q exrp-a "$ng/lb/served" && grep -q exrp-b "$ng/lb/served"; then
        ok "template: both live instances served ($(sort "$ng/lb/served" | uniq -c | tr -s ' ' | tr '\n' ';'))"
      else
        bad "template: not balanced: $(sort "$ng/lb/served" | uniq -c | tr '\n' ';')"
      fi
      check_code() { # want description curl-args...
        local want=$1 what=$2 got
        shift 2
        got=$(curl -sS -o /dev/null -w '%{http_code}' "$@" || echo 000)
        if [ "$got" = "$want" ]; then ok "template: $what -> $got"; else bad "template: $what -> $got, want $want"; fi
      }
      check_code 200 "GET /health" "$base/health"
      check_code 200 "GET /api/v1/interaction-end/{id}" "$base/api/v1/interaction-end/abc"
      check_code 404 "GET /status (admin API, not forwarded)" "$base/status"
      check_code 403 "DELETE /api/v1/interaction-end" -X DELETE "$base/api/v1/interaction-end"
      head -c 70000 /dev/zero | tr '\0' 'a' >"$ng/lb/big"
      check_code 413 "POST of 70,000 bytes (64 KiB limit)" -X POST --data-binary @"$ng/lb/big" "$base/api/v1/interaction-end"
    else
      bad "template: nginx or a stand-in did not start ($(tail -n 3 "$ng/lb/error.log" 2>/dev/null))"
    fi
  else
    bad "nginx -t exrp-lb.conf.template: $out"
  fi
else
  skip "nginx checks (nginx not installed)"
fi

# --- Prometheus and Grafana ------------------------------------------------------------------
section "alerts and dashboard"
py metrics "$WORK/dashboard-rules.yml"
if command -v promtool >/dev/null 2>&1; then
  if out=$(promtool check rules deploy/alerts/engage-connector.rules.yml 2>&1); then
    ok "promtool check rules: $(grep -o '[0-9]* rules found' <<<"$out")"
  else
    bad "promtool check rules: $out"
  fi
  if out=$(cd deploy/alerts && promtool test rules engage-connector.rules.test.yml 2>&1); then
    ok "promtool test rules engage-connector.rules.test.yml"
  else
    bad "promtool test rules: $out"
  fi
  if out=$(promtool check config deploy/alerts/prometheus.yml 2>&1); then
    ok "promtool check config deploy/alerts/prometheus.yml"
  else
    bad "promtool check config prometheus.yml: $out"
  fi
  if out=$(promtool check config deploy/alerts/prometheus-kubernetes.yml 2>&1); then
    ok "promtool check config deploy/alerts/prometheus-kubernetes.yml"
  elif grep -q 'kubernetes_sd_configs not found' <<<"$out"; then
    skip "promtool check config prometheus-kubernetes.yml (this promtool is built without Kubernetes discovery)"
  else
    bad "promtool check config prometheus-kubernetes.yml: $out"
  fi
  if out=$(promtool check rules "$WORK/dashboard-rules.yml" 2>&1); then
    ok "promtool parses every dashboard query ($(grep -o '[0-9]* rules found' <<<"$out"))"
  else
    bad "a dashboard query does not parse: $out"
  fi
else
  skip "promtool checks (promtool not installed)"
fi

# --- Kubernetes ------------------------------------------------------------------------------
section "Kubernetes"
rendered="$WORK/k8s.yaml"
if command -v kubectl >/dev/null 2>&1 && kubectl kustomize deploy/k8s >"$rendered" 2>"$WORK/kustomize.err"; then
  ok "kubectl kustomize deploy/k8s ($(grep -c '^kind:' "$rendered") objects)"
  py k8s "$rendered"
  if command -v kubernetes-validate >/dev/null 2>&1; then
    for f in "$rendered" deploy/k8s/secret.example.yaml deploy/k8s/redis-lab.yaml; do
      if out=$(kubernetes-validate --strict --quiet "$f" 2>&1); then
        ok "kubernetes-validate --strict $(basename "$f") ($(kubernetes-validate --version 2>/dev/null | head -n1), Kubernetes schemas)"
      else
        bad "kubernetes-validate $(basename "$f"): $out"
      fi
    done
  else
    skip "Kubernetes schema validation (no kubernetes-validate)"
  fi
  if kubectl config current-context >/dev/null 2>&1; then
    if out=$(kubectl apply --dry-run=client -f "$rendered" 2>&1); then ok "kubectl apply --dry-run=client"; else bad "kubectl apply --dry-run=client: $out"; fi
  else
    skip "kubectl apply --dry-run=client (no cluster configured: it needs one even in client mode)"
  fi
else
  if command -v kubectl >/dev/null 2>&1; then bad "kubectl kustomize deploy/k8s: $(cat "$WORK/kustomize.err")"; else skip "Kubernetes render (no kubectl)"; fi
fi

# --- the services themselves ----------------------------------------------------------------
section "the built services read what each deployment gives them"
# Built binaries are used when there are some (this script never builds: cargo belongs to
# scripts/test.sh); a binary older than the sources may note a newer setting as unread.
bindir=""
for d in target/release target/debug; do
  if [ -x "$d/excs" ] && [ -x "$d/exas" ] && [ -x "$d/excp" ] && [ -x "$d/exrp" ]; then bindir="$ROOT/$d"; break; fi
done
if [ -n "$bindir" ] && [ -s "$rendered" ]; then
  say "using the binaries in ${bindir#"$ROOT"/} (built $(date -r "$bindir/excs" '+%F %T'))"
  py run "$bindir" "$WORK/compose" "$rendered"
else
  skip "--check-config of compose, systemd and k8s environments (no built excs/exas/excp/exrp in target/)"
fi

printf '\n'
say "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
