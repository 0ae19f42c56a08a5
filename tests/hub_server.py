#!/usr/bin/env python3
"""hub_server.py — a stand-in for the Hugging Face Hub on 127.0.0.1, for
tests/cli_hub.sh. Python standard library only.

It serves model repositories from local folders with the Hub's URL layout
and headers, as huggingface_hub expects them:

  HEAD/GET /{org}/{name}/resolve/{revision}/{file}
      regular files: 200, ETag "<git blob id>", X-Repo-Commit, Content-Length
      LFS files (*.safetensors): 302 to http://localhost:PORT/cdn/... (the
      same server under another host name, as the CDN is another host), with
      X-Linked-Etag "<sha256>", X-Linked-Size, X-Repo-Commit and the ETag of
      the LFS pointer file
      errors: 404 with X-Error-Code RepoNotFound / RevisionNotFound /
      EntryNotFound (+ X-Repo-Commit), 401 GatedRepo without the token
  GET /cdn/{org}/{name}/{sha256}?sig=...   the bytes; Range -> 206
  GET /api/models/{org}/{name}/revision/{rev}  repo info (snapshot_download)
  GET /api/models/{org}/{name}/tree/{rev}      file list (snapshot_download)

Revisions: "main", the tag "v1" and the commit (a SHA-1 of the contents).
Faults for the tests (each REPO is org/name):
  --cut REPO:FILE:N      the first GET of FILE sends N bytes of the body and
                         closes the connection (Content-Length says more)
  --stall REPO:FILE:N    the first GET of FILE sends N bytes and then sends
                         nothing more for 60 s
  --corrupt REPO:FILE    FILE's bytes are served with one byte flipped (the
                         ETag stays the true SHA-256)
  --gated REPO=TOKEN     resolve requests need "Authorization: Bearer TOKEN"
  --alias REPO=COMMIT    the server also answers for the 40-hex revision
                         COMMIT, with the repo's own commit (a mirror that
                         ignores the revision asked for)
  --busy REPO:FILE:N:S   the first N GETs of FILE answer 429 with
                         "Retry-After: S" (rate limited)
  --cdn-expire REPO:FILE:N  the first N download links the Hub gives for FILE
                         have expired: the CDN answers 403 to them, always
                         (as a storage host does), so a client must ask the
                         Hub for a new link
  --cdn-once REPO:FILE   each download link for FILE serves one GET, then
                         has expired (403), as a link past its time during a
                         download that must be resumed
  --ratelimit REPO:FILE:N:S  the first N GETs of FILE answer 429 with the
                         Hub's 'RateLimit: "resolvers";r=0;t=S' and no
                         Retry-After
  --error-page REPO:FILE:N  the first N GETs of FILE answer 503 with a
                         100 kB HTML body (a proxy's or load balancer's error
                         page)
  --notfound REPO:FILE:N the first N requests for FILE on /resolve/ answer
                         404 without X-Error-Code (a proxy's or a load
                         balancer's own 404, not the Hub's EntryNotFound)
Every request is appended to --log as one JSON line {method, path, range,
auth, status, time}, before any byte of the response is sent: a client that has
its response (and exits) has its request in the log, so a test that counts
the log lines right after a command sees all of its requests and none come
later. The chosen port is written to --port-file.

`hub_server.py shard SRC.safetensors DIR` splits a safetensors file in two
shards plus model.safetensors.index.json (for the sharded-repo test).
"""
import argparse
import hashlib
import http.server
import json
import os
import socketserver
import struct
import sys
import threading
import time
import urllib.parse


def git_blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha, size):
    return ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n" % (sha, size)).encode()


class Repo:
    def __init__(self, repo_id, folder):
        self.repo_id = repo_id
        self.files = {}
        h = hashlib.sha1(repo_id.encode())
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                data = f.read()
            lfs = name.endswith(".safetensors")
            sha = hashlib.sha256(data).hexdigest()
            self.files[name] = {
                "data": data,
                "lfs": lfs,
                "sha256": sha,
                "oid": git_blob_id(lfs_pointer(sha, len(data)) if lfs else data),
            }
            h.update(name.encode() + b"\0" + sha.encode())
        self.commit = h.hexdigest()
        self.token = None
        self.corrupt = set()
        self.cut = {}    # file -> bytes, once
        self.stall = {}  # file -> bytes, once
        self.notfound = {}  # file -> how many requests still get a bare 404
        self.alias = None
        self.busy = {}  # file -> [GETs still answered 429, Retry-After]
        self.ratelimit = {}  # file -> [GETs still answered 429, RateLimit's t=]
        self.cdn_expire = {}  # file -> links given before this one (serial <= N) have expired
        self.links = {}  # file -> download links given so far
        self.cdn_once = set()  # files whose links serve one GET
        self.used = set()  # (file, serial) of links used, for cdn_once
        self.error_page = {}  # file -> GETs still answered 503 with a large body

    def revision(self, rev):
        return self.commit if rev in ("main", "v1", self.commit, self.alias) else None


class State:
    repos = {}
    log_path = None
    lock = threading.Lock()


def parse_repo_file(spec, n_parts):
    parts = spec.rsplit(":", n_parts - 1)
    if len(parts) != n_parts:
        sys.exit("bad fault spec %r" % spec)
    return parts


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "hub-test"

    def log_message(self, fmt, *args):
        pass

    def record(self, status):
        entry = {
            "method": self.command,
            "path": self.path,
            "range": self.headers.get("Range"),
            "auth": self.headers.get("Authorization"),
            "status": status,
            "time": time.time(),
        }
        with State.lock:
            with open(State.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def error(self, status, code=None, message=None, commit=None):
        body = (message or "error").encode()
        self.record(status)
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        if message:
            self.send_header("X-Error-Message", message)
        if commit:
            self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        try:
            if len(parts) >= 4 and parts[0] == "cdn":
                return self.cdn(parts[1] + "/" + parts[2], parts[3], urllib.parse.parse_qs(url.query))
            if len(parts) >= 5 and parts[0] == "api" and parts[1] == "models":
                return self.api(parts[2] + "/" + parts[3], parts[4], parts[5] if len(parts) > 5 else None)
            if len(parts) == 5 and parts[2] == "resolve":
                return self.resolve(parts[0] + "/" + parts[1], parts[3], parts[4])
        except (BrokenPipeError, ConnectionResetError):
            return
        self.error(404, None, "no such route")

    def resolve(self, repo_id, rev, name):
        repo = State.repos.get(repo_id)
        if repo is None:
            return self.error(404, "RepoNotFound", "Repository not found")
        if repo.token is not None and self.headers.get("Authorization") != "Bearer " + repo.token:
            return self.error(401, "GatedRepo", "Access to model %s is restricted." % repo_id)
        commit = repo.revision(rev)
        if commit is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
        if repo.notfound.get(name, 0) > 0:
            repo.notfound[name] -= 1
            return self.error(404, None, "Not Found")
        f = repo.files.get(name)
        if f is None:
            return self.error(404, "EntryNotFound", "Entry not found", commit)
        if f["lfs"]:
            # another host name for the same server, as the Hub's CDN is
            # another host: clients must not follow it on HEAD nor send the
            # token there
            with State.lock:
                serial = repo.links[name] = repo.links.get(name, 0) + 1
            location = "http://localhost:%d/cdn/%s/%s?sig=%s-%d" % (self.server.server_address[1], repo_id,
                                                                   f["sha256"], commit[:8], serial)
            body = b"Found. Redirecting to " + location.encode()
            self.record(302)
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("ETag", '"%s"' % f["oid"])
            self.send_header("X-Linked-Etag", '"%s"' % f["sha256"])
            self.send_header("X-Linked-Size", str(len(f["data"])))
            self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        self.send_file(repo, name, f, {"ETag": '"%s"' % f["oid"], "X-Repo-Commit": commit})

    def cdn(self, repo_id, sha, query):
        repo = State.repos.get(repo_id)
        for name, f in (repo.files.items() if repo else []):
            if f["sha256"] == sha:
                sig = query.get("sig", [""])[0].rsplit("-", 1)
                serial = int(sig[1]) if len(sig) == 2 and sig[1].isdigit() else 0
                if serial <= repo.cdn_expire.get(name, 0) or (name, serial) in repo.used:
                    return self.error(403, None, "Request has expired")
                if self.command == "GET" and name in repo.cdn_once:
                    repo.used.add((name, serial))
                return self.send_file(repo, name, f, {"ETag": '"%s"' % sha})
        self.error(404, None, "no such object")

    def send_file(self, repo, name, f, headers):
        busy = repo.busy.get(name)
        limited = repo.ratelimit.get(name)
        if self.command == "GET" and not (busy and busy[0] > 0) and limited and limited[0] > 0:
            limited[0] -= 1
            self.record(429)
            self.send_response(429)
            self.send_header("RateLimit", '"resolvers";r=0;t=%d' % limited[1])
            self.send_header("RateLimit-Policy", '"fixed window";"resolvers";q=3000;w=300')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.command == "GET" and busy and busy[0] > 0:
            busy[0] -= 1
            self.record(429)
            self.send_response(429)
            self.send_header("Retry-After", str(busy[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.command == "GET" and repo.error_page.get(name, 0) > 0:
            repo.error_page[name] -= 1
            body = b"<html><body>" + b"Service Unavailable " * 5000 + b"</body></html>"
            self.record(503)
            self.send_response(503)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        data = f["data"]
        if name in repo.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        size, start, status = len(data), 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= size:
                self.record(416)
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.record(status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(size - start))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        if self.command == "HEAD":
            return
        body = data[start:]
        if self.command == "GET" and name in repo.cut:
            n = repo.cut.pop(name)
            self.wfile.write(body[:n])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        if self.command == "GET" and name in repo.stall:
            n = repo.stall.pop(name)
            self.wfile.write(body[:n])
            self.wfile.flush()
            time.sleep(60)
            return
        self.wfile.write(body)

    def api(self, repo_id, kind, rev):
        repo = State.repos.get(repo_id)
        if repo is None:
            return self.error(404, "RepoNotFound", "Repository not found")
        commit = repo.revision(rev or "main")
        if commit is None:
            return self.error(404, "RevisionNotFound", "Invalid rev id")
        if kind == "revision":
            out = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False, "tags": [],
                   "siblings": [{"rfilename": n} for n in repo.files]}
        elif kind == "tree":
            out = []
            for n, f in repo.files.items():
                e = {"type": "file", "oid": f["oid"], "size": len(f["data"]), "path": n}
                if f["lfs"]:
                    e["lfs"] = {"oid": f["sha256"], "size": len(f["data"]),
                                "pointerSize": len(lfs_pointer(f["sha256"], len(f["data"])))}
                out.append(e)
        else:
            return self.error(404, None, "no such route")
        body = json.dumps(out).encode()
        self.record(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def shard(src, out):
    """Split a safetensors file into two shards + index."""
    with open(src, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    header.pop("__metadata__", None)
    names = sorted(header)
    groups = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map, total = {}, 0
    for k, group in enumerate(groups):
        fname = "model-%05d-of-%05d.safetensors" % (k + 1, len(groups))
        hdr, chunks, off = {"__metadata__": {"format": "pt"}}, [], 0
        for t in group:
            a, b = header[t]["data_offsets"]
            hdr[t] = {"dtype": header[t]["dtype"], "shape": header[t]["shape"], "data_offsets": [off, off + b - a]}
            chunks.append(data[a:b])
            off += b - a
            weight_map[t] = fname
            total += b - a
        hj = json.dumps(hdr, separators=(",", ":")).encode()
        hj += b" " * (-len(hj) % 8)
        with open(os.path.join(out, fname), "wb") as f:
            f.write(struct.pack("<Q", len(hj)) + hj + b"".join(chunks))
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "shard":
        return shard(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--repo", action="append", default=[], help="org/name=FOLDER")
    ap.add_argument("--cut", action="append", default=[])
    ap.add_argument("--stall", action="append", default=[])
    ap.add_argument("--corrupt", action="append", default=[])
    ap.add_argument("--gated", action="append", default=[])
    ap.add_argument("--notfound", action="append", default=[])
    ap.add_argument("--alias", action="append", default=[])
    ap.add_argument("--busy", action="append", default=[])
    ap.add_argument("--cdn-expire", action="append", default=[])
    ap.add_argument("--cdn-once", action="append", default=[])
    ap.add_argument("--error-page", action="append", default=[])
    ap.add_argument("--ratelimit", action="append", default=[])
    a = ap.parse_args()
    for spec in a.repo:
        rid, folder = spec.split("=", 1)
        State.repos[rid] = Repo(rid, folder)
    for spec in a.cut:
        rid, name, n = parse_repo_file(spec, 3)
        State.repos[rid].cut[name] = int(n)
    for spec in a.stall:
        rid, name, n = parse_repo_file(spec, 3)
        State.repos[rid].stall[name] = int(n)
    for spec in a.corrupt:
        rid, name = parse_repo_file(spec, 2)
        State.repos[rid].corrupt.add(name)
    for spec in a.cdn_expire:
        rid, name, n = parse_repo_file(spec, 3)
        State.repos[rid].cdn_expire[name] = int(n)
    for spec in a.cdn_once:
        rid, name = parse_repo_file(spec, 2)
        State.repos[rid].cdn_once.add(name)
    for spec in a.ratelimit:
        rid, name, n, secs = parse_repo_file(spec, 4)
        State.repos[rid].ratelimit[name] = [int(n), int(secs)]
    for spec in a.error_page:
        rid, name, n = parse_repo_file(spec, 3)
        State.repos[rid].error_page[name] = int(n)
    for spec in a.busy:
        rid, name, n, secs = parse_repo_file(spec, 4)
        State.repos[rid].busy[name] = [int(n), int(secs)]
    for spec in a.alias:
        rid, commit = spec.split("=", 1)
        State.repos[rid].alias = commit
    for spec in a.notfound:
        rid, name, n = parse_repo_file(spec, 3)
        State.repos[rid].notfound[name] = int(n)
    for spec in a.gated:
        rid, token = spec.split("=", 1)
        State.repos[rid].token = token
    State.log_path = a.log
    open(a.log, "a").close()
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
